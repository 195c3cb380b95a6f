"""The demo system: loaded through the services, clearly fictional, a picture worth looking
at in the gap analysis and the board report, and loaded once only."""

import re

import httpx
import pytest

from app.auth.principal import OPERATOR
from app.demo.service import DEMO_FILE, demo_system, load_demo
from app.errors import Conflict
from tests.conftest import Backend, snapshot
from tests.helpers import create_organisation


async def test_the_demo_loads_a_system_with_a_meaningful_picture(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    result = await load_demo(backend.app.state.sessions.reads, principal=OPERATOR)
    assert result.loaded
    assert (result.organisations, result.assets, result.activities) == (7, 22, 17)
    assert result.plan_items == 5
    assert result.summary().startswith("Loaded Demo Valley ICS (")

    members = (await client.get(f"/v1/organisations/{result.ics_id}/members?depth=all")).json()
    kinds = {m["organisationType"] for m in members["items"]}
    assert kinds == {
        "icb",
        "acute_trust",
        "mental_health_trust",
        "primary_care_network",
        "gp_practice",
        "local_authority",
    }
    scores = {}
    for member in members["items"]:
        analysis = await client.get(f"/v1/organisations/{member['id']}/gap-analysis")
        assert analysis.status_code == 200
        scores[member["organisationType"]] = analysis.json()["summary"]["overallScore"]
    # A spread, not a flat line: the acute trust leads, the young network trails.
    assert scores["acute_trust"] > scores["mental_health_trust"] > scores["primary_care_network"]
    assert scores["acute_trust"] >= 40
    assert min(scores.values()) > 0

    system = (
        await client.get(f"/v1/organisations/{result.ics_id}/gap-analysis?scope=system")
    ).json()
    coverage = [c["coverage"] for c in system["capabilities"]]
    assert any(c == 0 for c in coverage)
    assert any(0 < c < 1 for c in coverage)  # met by some members: something to spread

    own = (await client.get(f"/v1/organisations/{result.ics_id}/gap-analysis")).json()
    nearby = [r for r in own["recommendations"] if r["availableInSystem"]]
    assert nearby, "the report should point at members who already meet something"

    # The plan: the trust's overdue item first, and the hub two members plan separately.
    trust = next(m for m in members["items"] if m["organisationType"] == "acute_trust")
    plan = (await client.get(f"/v1/organisations/{trust['id']}/gap-analysis")).json()["plan"]
    assert len(plan["items"]) == 4
    assert plan["items"][0]["title"] == "Agree three improvement priorities with the board"
    assert plan["items"][0]["overdue"]
    assert [d["capabilityKey"] for d in system["duplicatedEffort"]] == [
        "interoperable-data-sharing"
    ]

    report = await client.get(f"/v1/organisations/{result.ics_id}/report")
    assert report.status_code == 200
    assert "Demo Valley Hospitals NHS Foundation Trust" in report.text
    assert 'id="heat-map"' in report.text


async def test_loading_again_changes_nothing(client: httpx.AsyncClient, backend: Backend) -> None:
    first = await load_demo(backend.app.state.sessions.reads, principal=OPERATOR)
    before = await snapshot(backend.engine)
    again = await load_demo(backend.app.state.sessions.reads, principal=OPERATOR)
    assert not again.loaded
    assert again.ics_id == first.ics_id
    assert "loaded already" in again.summary()
    assert await snapshot(backend.engine) == before


async def test_a_part_of_the_demo_already_there_is_refused(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    await create_organisation(client, name="Someone else", odsCode="DEMOGP1")
    before = await snapshot(backend.engine)
    with pytest.raises(Conflict, match="DEMOGP1"):
        await load_demo(backend.app.state.sessions.reads, principal=OPERATOR)
    assert await snapshot(backend.engine) == before


def test_the_demo_is_plainly_fictional() -> None:
    system = demo_system()
    for organisation in system.organisations:
        assert "Demo" in organisation.name
        assert organisation.ods_code.startswith("DEMO")
    urls = re.findall(r"https?://[^\s\"'}\]]+", DEMO_FILE.read_text(encoding="utf-8"))
    assert urls
    assert all(url.startswith("https://example.org/") for url in urls)


async def test_the_demo_has_a_submitted_partly_moderated_self_assessment(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    result = await load_demo(backend.app.state.sessions.reads, principal=OPERATOR)
    members = (await client.get(f"/v1/organisations/{result.ics_id}/members?depth=all")).json()
    pcn = next(m for m in members["items"] if m["organisationType"] == "primary_care_network")
    listed = (await client.get(f"/v1/organisations/{pcn['id']}/self-assessments")).json()
    assert [s["status"] for s in listed["items"]] == ["submitted"]
    one = (await client.get(f"/v1/self-assessments/{listed['items'][0]['id']}")).json()
    moderated = [a for a in one["answers"] if a["moderation"] is not None]
    assert 0 < len(moderated) < len(one["answers"])
    assert {a["respondent"] for a in one["answers"]} != {
        a["moderation"]["moderatorRespondent"] for a in moderated
    }
    provenance = (await client.get(f"/v1/organisations/{pcn['id']}/gap-analysis")).json()[
        "summary"
    ]["provenance"]
    assert 0 < provenance["moderated"] < provenance["byOrigin"]["questionnaire"]
