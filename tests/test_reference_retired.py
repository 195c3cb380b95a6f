"""A retired reference model (2024.1): readable, kept by what was stored with it, refused for
anything new (409 MODEL_RETIRED), whichever route would use it."""

import httpx
import pytest

from app.reference.schemas import RETIRED
from tests.helpers import EVIDENCED, assert_problem, create_asset, create_organisation

MODEL = "/v1/reference-models"
RETIRED_VERSION = "2024.1"
DEFAULT = "2026.2"


def assert_retired(response: httpx.Response, version: str = RETIRED_VERSION) -> None:
    problem = assert_problem(response, 409, "MODEL_RETIRED")
    assert problem["title"] == "Reference model retired"
    # The caller learns which model, why, and what to use instead.
    assert f"Reference model {version}" in problem["detail"]
    assert "Table 4 row 5" in problem["detail"]
    assert f"the current default, {DEFAULT}" in problem["detail"]


async def variant_of(client: httpx.AsyncClient, base: str, version: str) -> httpx.Response:
    body = (await client.get(f"{MODEL}/{base}")).json() | {
        "version": version,
        "basedOn": base,
        "title": f"Local variant of {base}",
    }
    return await client.put(f"{MODEL}/{version}", json=body)


async def test_a_new_analysis_assessment_or_report_with_a_retired_model_is_refused(
    client: httpx.AsyncClient,
) -> None:
    ics = await create_organisation(client, name="Retired ICS", organisationType="ics")
    trust = await create_organisation(client, name="Retired Trust", parentId=ics["id"])
    await create_asset(client, trust["id"], capabilityKey="data-platform", maturity=3, **EVIDENCED)
    named = {"referenceModel": RETIRED_VERSION}
    base = f"/v1/organisations/{trust['id']}"

    assert_retired(await client.get(f"{base}/gap-analysis", params=named))
    assert_retired(await client.get(f"{base}/gap-analysis", params=named | {"format": "csv"}))
    system = {"scope": "system"} | named
    assert_retired(await client.get(f"/v1/organisations/{ics['id']}/gap-analysis", params=system))
    assert_retired(await client.post(f"{base}/assessments", json=named))
    assert (await client.get(f"{base}/assessments")).json()["items"] == []
    assert_retired(await client.get(f"{base}/report", params=named))

    # The same requests with a current model, or none, still work.
    current = await client.get(f"{base}/gap-analysis")
    assert current.status_code == 200
    assert current.json()["referenceModel"]["version"] == DEFAULT
    made = await client.post(f"{base}/assessments", json={"referenceModel": "2026.1"})
    assert made.status_code == 201, made.text


async def test_a_retired_model_still_reads_and_says_it_is_retired(
    client: httpx.AsyncClient,
) -> None:
    model = await client.get(f"{MODEL}/{RETIRED_VERSION}")
    assert model.status_code == 200
    assert model.json()["status"] == "retired"
    assert len(model.json()["capabilities"]) == 26
    capabilities = await client.get(f"{MODEL}/{RETIRED_VERSION}/capabilities")
    assert capabilities.status_code == 200
    assert (await client.get(f"{MODEL}/{DEFAULT}")).json()["status"] == "current"
    listed = {m["version"]: m["status"] for m in (await client.get(MODEL)).json()["items"]}
    assert listed == {"2024.1": "retired", "2026.1": "current", "2026.2": "current"}


async def test_no_new_variant_of_a_retired_model(client: httpx.AsyncClient) -> None:
    assert_retired(await variant_of(client, RETIRED_VERSION, "2024.1-local"))
    assert_problem(await client.get(f"{MODEL}/2024.1-local"), 404, "NOT_FOUND")
    # A variant of a current model, and one of that variant, are made as before.
    made = await variant_of(client, "2026.1", "2026.1-local")
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "current"


async def test_a_variant_made_before_retirement_is_retired_with_its_base(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    trust = await create_organisation(client)
    url = f"/v1/organisations/{trust['id']}/gap-analysis"
    with monkeypatch.context() as before:
        before.delitem(RETIRED, RETIRED_VERSION)
        assert (await variant_of(client, RETIRED_VERSION, "2024.1-local")).status_code == 201
        # and a variant of that variant: retirement follows the chain
        assert (await variant_of(client, "2024.1-local", "2024.1-local-2")).status_code == 201
        ok = await client.get(url, params={"referenceModel": "2024.1-local-2"})
        assert ok.status_code == 200, ok.text

    for version in ("2024.1-local", "2024.1-local-2"):
        refused = await client.get(url, params={"referenceModel": version})
        assert_retired(refused)
        assert f"the model {version} is based on" in refused.json()["detail"]
        shown = await client.get(f"{MODEL}/{version}")
        assert shown.status_code == 200
        assert shown.json()["status"] == "retired"
    listed = {m["version"]: m["status"] for m in (await client.get(MODEL)).json()["items"]}
    assert listed["2024.1-local"] == listed["2024.1-local-2"] == "retired"


async def test_an_assessment_stored_with_a_retired_model_reads_as_it_was_made(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    trust = await create_organisation(client)
    await create_asset(client, trust["id"], capabilityKey="data-platform", maturity=2, **EVIDENCED)
    assessments = f"/v1/organisations/{trust['id']}/assessments"
    with monkeypatch.context() as before:
        before.delitem(RETIRED, RETIRED_VERSION)
        made = await client.post(assessments, json={"referenceModel": RETIRED_VERSION})
        assert made.status_code == 201, made.text
        as_made = (await client.get(f"/v1/assessments/{made.json()['id']}")).json()

    reread = await client.get(f"/v1/assessments/{made.json()['id']}")
    assert reread.status_code == 200
    assert reread.json() == as_made
    assert reread.json()["analysis"]["referenceModel"]["version"] == RETIRED_VERSION
    listed = (await client.get(assessments)).json()["items"]
    assert [a["referenceModel"]["version"] for a in listed] == [RETIRED_VERSION]
    # Compared with a new assessment on the default: the models differ, and it says so.
    new = await client.post(assessments, json={})
    assert new.status_code == 201, new.text
    compared = await client.get(
        f"/v1/assessments/{new.json()['id']}/compare", params={"with": made.json()["id"]}
    )
    assert compared.status_code == 200, compared.text
    assert f"{RETIRED_VERSION} then {DEFAULT}" in compared.json()["modelNote"]


async def test_the_openapi_document_names_the_409_where_a_model_may_be_retired(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    operations = {
        op["operationId"]: op
        for item in paths.values()
        for op in item.values()
        if "operationId" in op
    }
    for operation in (
        "gap-analysis-get",
        "assessments-create",
        "reports-get",
        "reference-models-put",
    ):
        assert "MODEL_RETIRED" in operations[operation]["responses"]["409"]["description"]


async def test_a_model_whose_hosts_are_outside_applies_to_is_refused(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get(f"{MODEL}/{DEFAULT}")).json() | {
        "version": "2026.2-hosts",
        "basedOn": DEFAULT,
        "title": "Hosts that do not apply",
    }
    index, capability = next((i, c) for i, c in enumerate(body["capabilities"]) if c["appliesTo"])
    outside = next(
        t for t in ("gp_practice", "icb", "acute_trust") if t not in capability["appliesTo"]
    )
    capability["hosts"] = [*capability["appliesTo"], outside]
    refused = await client.put(f"{MODEL}/2026.2-hosts", json=body)
    problem = assert_problem(refused, 422, "VALIDATION_FAILED")
    assert "hosts names a type it does not apply to" in str(problem["errors"])
    assert problem["errors"][0]["pointer"].startswith(f"#/capabilities/{index}")
    assert_problem(await client.get(f"{MODEL}/2026.2-hosts"), 404, "NOT_FOUND")
