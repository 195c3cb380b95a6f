"""A page of assets, and one asset, are written straight from rows without a response model:
each must still be exactly what the model gives (as a create answers), item for item and byte
for byte."""

import httpx
from pydantic import TypeAdapter

from app.assets.schemas import AssetPage, AssetPublic
from tests.helpers import EVIDENCED, PEER_REVIEWED, create_asset, create_organisation

AS_JSON: TypeAdapter[AssetPage] = TypeAdapter(AssetPage)
ONE: TypeAdapter[AssetPublic] = TypeAdapter(AssetPublic)
SHEET = "externalId,area,name,maturity\r\nX-1,data,Imported from a sheet,2\r\n"


async def test_a_page_is_the_models_json_item_for_item_and_byte_for_byte(
    client: httpx.AsyncClient,
) -> None:
    trust = await create_organisation(client, name="Leeds Teaching Hospitals")
    url = f"/v1/organisations/{trust['id']}/assets"
    created = [
        await create_asset(client, trust["id"], name="Bare minimum", area="technology", maturity=0)
    ]
    created += [
        await create_asset(
            client,
            trust["id"],
            name="Everything filled",
            area="improvement",
            capabilityKey="improvement-capability",
            description="QI faculty, with a café in the name: non-ASCII survives",
            owner="Director of QI",
            maturity=4,
            tags=["zeta", "Alpha", "a-b", "a.b"],
            sharedWithMembers=False,
            **EVIDENCED,
        ),
        await create_asset(client, trust["id"], name="Peer reviewed", maturity=3, **PEER_REVIEWED),
    ]
    imported = await client.post(
        f"{url}/import", content=SHEET.encode(), headers={"Content-Type": "text/csv"}
    )
    assert imported.status_code == 200, imported.text

    first = await client.get(url, params={"limit": 3})
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/json"
    page = first.json()
    assert page["links"]["next"], "four assets, pages of three: a next page"
    assert first.headers["link"] == f'<{page["links"]["next"]}>; rel="next"'
    second = await client.get(page["links"]["next"])
    assert second.status_code == 200, second.text
    assert second.json()["links"]["next"] is None
    assert "link" not in second.headers

    for response in (first, second):
        # Byte for byte what the page model would serialise to.
        assert AS_JSON.dump_json(AS_JSON.validate_json(response.content), by_alias=True) == (
            response.content
        )
        # Item for item what reading the asset alone gives, also byte for byte its model's.
        for item in response.json()["items"]:
            alone = await client.get(f"/v1/assets/{item['id']}")
            assert alone.status_code == 200, alone.text
            assert alone.headers["etag"] == f'W/"{item["version"]}"'
            assert ONE.dump_json(ONE.validate_json(alone.content), by_alias=True) == alone.content
            assert item == alone.json()
    # What the create answered, through the response model, is what the reads answer.
    items = [i for p in (first, second) for i in p.json()["items"]]
    assert items[:3] == created
    names = [i["name"] for i in items]
    assert names == ["Bare minimum", "Everything filled", "Peer reviewed", "Imported from a sheet"]
    everything = first.json()["items"][1]
    assert everything["tags"] == sorted(everything["tags"])
    assert everything["evidence"] == EVIDENCED["evidence"]
