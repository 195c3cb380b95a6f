"""The gap analysis reads the action plan: plan items made through the API show in the very
next analysis (organisation and system), on both databases; a remembered analysis is
remembered for its day only."""

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from app.analysis import service
from app.analysis.schemas import GapAnalysis
from app.auth.principal import Principal
from app.vocabulary import PrincipalKind, Role, Scope
from tests.conftest import Backend
from tests.helpers import create_organisation

TODAY = datetime.now(UTC).date()
YESTERDAY = (TODAY - timedelta(days=1)).isoformat()
NEXT_MONTH = (TODAY + timedelta(days=30)).isoformat()


async def plan_item(client: httpx.AsyncClient, organisation_id: str, **fields: Any) -> Any:
    body = {"title": "A plan item"} | fields
    response = await client.post(f"/v1/organisations/{organisation_id}/plan-items", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def analysis(client: httpx.AsyncClient, organisation_id: str, **params: str) -> Any:
    response = await client.get(f"/v1/organisations/{organisation_id}/gap-analysis", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def next_review(client: httpx.AsyncClient, organisation: Any, due: date | None) -> None:
    """Set the organisation's next review date through the API (If-Match its version)."""
    url = f"/v1/organisations/{organisation['id']}"
    current = await client.get(url)
    response = await client.patch(
        url,
        json={"nextReviewDue": due and due.isoformat()},
        headers={"If-Match": current.headers["etag"]},
    )
    assert response.status_code == 200, response.text


async def test_plan_items_show_in_the_next_analysis_and_never_meet_a_capability(
    client: httpx.AsyncClient,
) -> None:
    trust = await create_organisation(client, name="Planning Trust")
    before = await analysis(client, trust["id"])
    top = [r["capabilityKey"] for r in before["recommendations"][:5]]
    assert before["plan"] == {"items": [], "unplanned": top, "overdue": 0, "unmapped": []}
    assert before["review"] == {"nextReviewDue": None, "overdue": False}

    late = await plan_item(
        client, trust["id"], capabilityKey=top[0], title="Agree priorities", dueDate=YESTERDAY
    )
    done = await plan_item(
        client, trust["id"], capabilityKey=top[1], title="Convene", status="completed"
    )
    await plan_item(client, trust["id"], capabilityKey=top[2], title="Shelved", status="stopped")
    soon = await plan_item(
        client, trust["id"], capabilityKey=top[3], title="Ambition", dueDate=NEXT_MONTH, rag="red"
    )
    after = await analysis(client, trust["id"])
    plan = after["plan"]
    assert [i["title"] for i in plan["items"]] == [
        "Agree priorities",
        "Ambition",
        "Convene",
        "Shelved",
    ]
    assert plan["overdue"] == 1
    assert plan["unplanned"] == [top[2], top[4]]  # a stopped item is no plan
    assert plan["unmapped"] == []
    assert plan["items"][0] == {
        "id": late["id"],
        "capabilityKey": top[0],
        "title": "Agree priorities",
        "owner": None,
        "dueDate": YESTERDAY,
        "status": "planned",
        "rag": "green",
        "overdue": True,
    }
    by_key = {r["capabilityKey"]: r for r in after["recommendations"]}
    assert [i["id"] for i in by_key[top[3]]["planItems"]] == [soon["id"]]
    # Completed is recorded in the plan, but only records meet a capability.
    assert [i["id"] for i in by_key[top[1]]["planItems"]] == [done["id"]]
    assert after["summary"] == before["summary"]
    assert [g["status"] for g in after["gaps"]] == [g["status"] for g in before["gaps"]]

    # A change is seen at once (the item bumps the records revision a remembered analysis is
    # keyed by), as is the review date (an organisation field the key names too).
    update_url = f"/v1/plan-items/{late['id']}"
    patched = await client.patch(
        update_url, json={"status": "completed"}, headers={"If-Match": 'W/"1"'}
    )
    assert patched.status_code == 200, patched.text
    await next_review(client, trust, TODAY - timedelta(days=1))
    latest = await analysis(client, trust["id"])
    assert latest["plan"]["overdue"] == 0
    assert latest["review"] == {"nextReviewDue": YESTERDAY, "overdue": True}
    deleted = await client.delete(update_url, headers={"If-Match": 'W/"2"'})
    assert deleted.status_code == 204, deleted.text
    await next_review(client, trust, TODAY)
    latest = await analysis(client, trust["id"])
    assert late["id"] not in {i["id"] for i in latest["plan"]["items"]}
    assert latest["review"] == {"nextReviewDue": TODAY.isoformat(), "overdue": False}
    # The review date alone (no record changed): still seen at once.
    await next_review(client, trust, None)
    latest = await analysis(client, trust["id"])
    assert latest["review"] == {"nextReviewDue": None, "overdue": False}


async def test_an_item_the_older_model_lacks_is_listed_as_unmapped(
    client: httpx.AsyncClient,
) -> None:
    trust = await create_organisation(client, name="Model Trust")
    # health-inequalities is new in 2026.2: 2026.1 does not know it.
    item = await plan_item(client, trust["id"], capabilityKey="health-inequalities")
    newest = await analysis(client, trust["id"])
    assert newest["plan"]["unmapped"] == []
    older = await analysis(client, trust["id"], referenceModel="2026.1")
    assert [i["id"] for i in older["plan"]["items"]] == [item["id"]]
    assert [i["id"] for i in older["plan"]["unmapped"]] == [item["id"]]


async def test_the_system_view_shows_duplicated_effort_and_each_members_top_five(
    client: httpx.AsyncClient,
) -> None:
    ics = await create_organisation(client, name="Plan ICS", organisationType="ics")
    leeds = await create_organisation(client, name="Leeds", parentId=ics["id"])
    york = await create_organisation(client, name="York", parentId=ics["id"])
    hull = await create_organisation(client, name="Hull", parentId=ics["id"])
    system = await analysis(client, ics["id"], scope="system")
    once = next(
        r["capabilityKey"]
        for r in system["recommendations"]
        if r["strategy"] == "build_once_for_system"
    )
    assert system["duplicatedEffort"] == []
    own_top = [
        r["capabilityKey"] for r in (await analysis(client, leeds["id"]))["recommendations"][:5]
    ]

    a = await plan_item(client, leeds["id"], capabilityKey=once, title="Leeds builds it")
    b = await plan_item(client, york["id"], capabilityKey=once, title="York builds it too")
    await plan_item(client, hull["id"], capabilityKey=once, status="stopped")
    await plan_item(client, leeds["id"], capabilityKey=own_top[0])
    await plan_item(client, leeds["id"], capabilityKey=own_top[1], status="active")
    system = await analysis(client, ics["id"], scope="system")
    (duplicated,) = system["duplicatedEffort"]
    assert duplicated["capabilityKey"] == once
    assert duplicated["members"] == 2
    assert [(p["organisation"]["name"], p["planItem"]["id"]) for p in duplicated["planItems"]] == [
        ("Leeds", a["id"]),
        ("York", b["id"]),
    ]
    rows = {m["organisation"]["name"]: m["topFivePlanned"] for m in system["members"]}
    assert rows == {
        "Hull": {"planned": 0, "of": 5},
        "Leeds": {"planned": 2, "of": 5},
        "York": {"planned": 0, "of": 5},
    }
    # The ICS's board report says the same to a person.
    page = await client.get(f"/v1/organisations/{ics['id']}/report")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert re.search(r"Members' plans .* Leeds [\d.]+ 2 of 5 ", text), text
    duplicated_part = text[text.index("Planned more than once") :]
    assert (
        f"{duplicated['title']} : Leeds (Leeds builds it); York (York builds it too)."
        in duplicated_part
    )


async def test_a_remembered_analysis_is_remembered_for_its_day_only(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """An item due today is not overdue today; asked again tomorrow, with nothing else
    changed, the same records give an overdue item: the day is part of what is remembered."""
    trust = await create_organisation(client, name="Tomorrow Trust")
    await plan_item(client, trust["id"], capabilityKey="learning-culture", dueDate=str(TODAY))
    reads = backend.app.state.sessions.reads
    admin = Principal("test", PrincipalKind.OPERATOR, Role.ADMIN)

    async def overdue_on(day: date) -> int:
        remembered, _ = await service.analysed(
            reads,
            principal=admin,
            organisation_id=uuid.UUID(trust["id"]),
            scope=Scope.ORGANISATION,
            today=day,
        )
        assert isinstance(remembered.analysis, GapAnalysis)
        return remembered.analysis.plan.overdue

    assert await overdue_on(TODAY) == 0
    assert await overdue_on(TODAY + timedelta(days=1)) == 1
    assert await overdue_on(TODAY) == 0
