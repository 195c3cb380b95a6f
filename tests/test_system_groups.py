"""The system view by sector and by region: every type has a sector, and a system's members
are grouped so that one sector's gap shows beside the average."""

import httpx

from app.vocabulary import SECTORS, OrganisationType, Sector
from tests.helpers import EVIDENCED, create_asset, create_organisation


def test_every_organisation_type_has_a_sector() -> None:
    assert set(SECTORS) == set(OrganisationType)
    assert SECTORS[OrganisationType.GP_FEDERATION] == Sector.PRIMARY_CARE
    assert SECTORS[OrganisationType.PRIMARY_CARE_NETWORK] == Sector.PRIMARY_CARE
    assert SECTORS[OrganisationType.ICB] == Sector.COMMISSIONERS


async def test_the_system_view_groups_members_by_sector_and_region(
    client: httpx.AsyncClient,
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    acute = await create_organisation(
        client,
        name="Acute",
        organisationType="acute_trust",
        parentId=ics["id"],
        region="North West",
    )
    for name, region in (("Practice 1", "North West"), ("Practice 2", None)):
        await create_organisation(
            client, name=name, organisationType="gp_practice", parentId=ics["id"], region=region
        )
    for key in ("learning-culture", "improvement-capability", "senior-learning-leadership"):
        await create_asset(
            client, acute["id"], area="improvement", capabilityKey=key, maturity=4, **EVIDENCED
        )
    response = await client.get(f"/v1/organisations/{ics['id']}/gap-analysis?scope=system")
    assert response.status_code == 200, response.text
    body = response.json()
    sectors = {g["sector"]: g for g in body["bySector"]}
    assert {k: g["members"] for k, g in sectors.items()} == {"acute": 1, "primary_care": 2}

    def improvement(group: dict[str, object]) -> float:
        areas = group["areas"]
        assert isinstance(areas, list)
        return float(next(a["score"] for a in areas if a["area"] == "improvement"))

    # Primary care's improvement gap shows, though the acute trust lifts the average.
    assert improvement(sectors["primary_care"]) == 0.0
    assert improvement(sectors["acute"]) > 0.0
    assert [(g["region"], g["members"]) for g in body["byRegion"]] == [
        ("North West", 2),
        (None, 1),
    ]
    assert sum(g["members"] for g in body["bySector"]) == body["summary"]["members"]
