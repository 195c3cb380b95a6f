"""A small system for the board report's tests, built through the public API."""

from typing import Any

import httpx

from tests.helpers import create_asset, create_organisation

EVIDENCE = [{"title": "Board paper", "url": "https://example.nhs.uk/board-paper.pdf"}]


async def evidenced_asset(
    client: httpx.AsyncClient, organisation_id: str, key: str, area: str, maturity: int = 3
) -> dict[str, Any]:
    return await create_asset(
        client,
        organisation_id,
        area=area,
        capabilityKey=key,
        name=key.replace("-", " ").capitalize(),
        maturity=maturity,
        confidence="evidenced",
        evidence=EVIDENCE,
    )


async def seed_system(client: httpx.AsyncClient, *, member_name: str) -> dict[str, str]:
    """An ICS with a shared data platform and three members of different strengths."""
    ics = await create_organisation(
        client, name="West Yorkshire ICS", organisationType="ics", odsCode="QWO"
    )
    leeds = await create_organisation(client, name=member_name, parentId=ics["id"])
    bradford = await create_organisation(client, name="Bradford District Care", parentId=ics["id"])
    practice = await create_organisation(
        client, name="Calderdale Practice", organisationType="gp_practice", parentId=ics["id"]
    )
    await create_asset(
        client,
        ics["id"],
        area="data",
        capabilityKey="data-platform",
        name="Shared care record and analytics platform",
        maturity=3,
        confidence="evidenced",
        evidence=EVIDENCE,
        sharedWithMembers=True,
    )
    await evidenced_asset(client, leeds["id"], "analytics-workforce", "data")
    await evidenced_asset(client, leeds["id"], "digital-infrastructure", "technology", 4)
    await evidenced_asset(client, bradford["id"], "learning-culture", "improvement")
    await evidenced_asset(client, bradford["id"], "learning-community", "learning_communities")
    await evidenced_asset(client, practice["id"], "digital-infrastructure", "technology")
    return {
        "ics": ics["id"],
        "leeds": leeds["id"],
        "bradford": bradford["id"],
        "practice": practice["id"],
    }
