"""A remembered analysis is answered from a body rendered once: each answer must still be the
exact JSON of the analysis it describes, with its own generatedAt."""

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import TypeAdapter

from app.analysis.schemas import AnyGapAnalysis
from tests.helpers import EVIDENCED, create_asset, create_organisation

AS_JSON: TypeAdapter[object] = TypeAdapter(AnyGapAnalysis)


@pytest.mark.parametrize("scope", ["organisation", "system"])
async def test_each_answer_is_the_exact_json_of_its_analysis(
    client: httpx.AsyncClient, scope: str
) -> None:
    ics = await create_organisation(client, name="West Yorkshire ICS", organisationType="ics")
    leeds = await create_organisation(client, name="Leeds", parentId=ics["id"])
    await create_organisation(client, name="Bradford", parentId=ics["id"])
    await create_asset(
        client,
        leeds["id"],
        area="improvement",
        capabilityKey="improvement-capability",
        maturity=3,
        **EVIDENCED,
    )
    target = leeds["id"] if scope == "organisation" else ics["id"]
    url = f"/v1/organisations/{target}/gap-analysis?scope={scope}"

    bodies = []
    for _ in range(3):  # the first computes; the others are remembered
        before = datetime.now(UTC)
        response = await client.get(url)
        after = datetime.now(UTC)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.headers["vary"] == "Accept"
        analysis = AS_JSON.validate_json(response.content)
        # Byte for byte what serialising the model it describes gives: nothing spliced shows.
        assert AS_JSON.dump_json(analysis, by_alias=True) == response.content
        generated_at = response.json()["generatedAt"]
        assert before <= datetime.fromisoformat(generated_at) <= after
        bodies.append(response.json())
    assert bodies[0]["scope"] == scope
    assert len({b["generatedAt"] for b in bodies}) == 3
    assert all({**b, "generatedAt": None} == {**bodies[0], "generatedAt": None} for b in bodies)
