"""Reference models: the shipped 2024.1, traceability to the report, filters, and PUT rules."""

import re
from typing import Any

import httpx
import pytest

from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_asset, create_organisation

# The independent oracle: /work/shared/domain.md. Table 3 (policy) and Table 4 (organisational)
# actions, rank -> % of experts rating it 'very high priority'; Table 3 also gives each an area.
PERCENTAGES: dict[int, dict[int, int]] = {
    3: {1: 68, 2: 63, 3: 59, 4: 57, 5: 51, 6: 48, 7: 47, 8: 47, 9: 44, 10: 43, 11: 43, 12: 42},
    4: {1: 70, 2: 68, 3: 67, 4: 60, 5: 59, 6: 58, 7: 58, 8: 45, 9: 41, 10: 34},
}
TECH, IMPR, LC, DATA = "technology", "improvement", "learning_communities", "data"
TABLE_3_AREAS = [TECH, IMPR, LC, DATA, DATA, TECH, DATA, TECH, IMPR, LC, IMPR, LC]  # rank 1..12
AREAS = {TECH, IMPR, LC, DATA}
LOOP_STAGES = {"practice_to_data", "data_to_knowledge", "knowledge_to_practice", "enabling"}
LEVELS = ("absent", "planned", "developing", "established", "embedded")
MODEL = "/v1/reference-models"
VARIANT = "2026.1-wy"  # a variant of a current model (2024.1 is retired)

Json = dict[str, Any]


VERSIONS = ["2024.1", "2026.1"]


async def shipped(client: httpx.AsyncClient, version: str = "2024.1") -> Json:
    response = await client.get(f"{MODEL}/{version}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def capability(model: Json, key: str) -> Json:
    return dict(next(c for c in model["capabilities"] if c["key"] == key))


async def variant_body(client: httpx.AsyncClient) -> Json:
    """The shipped model as a West Yorkshire variant, with interoperability raised to 0.7."""
    body = await shipped(client, "2026.1") | {
        "version": VARIANT,
        "basedOn": "2026.1",
        "title": "West Yorkshire variant",
    }
    capability_ = next(c for c in body["capabilities"] if c["key"] == "interoperable-data-sharing")
    capability_["weight"] = 0.7
    # 2026.1 ranks by the source's Table 4 first; this variant ranks by its own weights.
    body["rules"] = body["rules"] | {"ranking": "weight"}
    return body


async def put_variant(client: httpx.AsyncClient, body: Json) -> httpx.Response:
    response = await client.put(f"{MODEL}/{VARIANT}", json=body)
    assert response.status_code == 201, response.text
    return response


async def test_list_shows_both_shipped_models_and_the_newer_as_default(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(MODEL)
    assert response.status_code == 200
    items = {m["version"]: m for m in response.json()["items"]}
    assert items["2024.1"]["isDefault"] is False
    assert items["2024.1"]["capabilityCount"] == 26
    assert items["2026.1"]["capabilityCount"] == 30
    assert items["2024.1"]["basedOn"] is None
    assert items["2026.1"]["basedOn"] is None
    assert items["2026.2"]["capabilityCount"] == 32
    assert [v for v, m in items.items() if m["isDefault"]] == ["2026.2"]


async def test_shipped_model_has_every_field_of_a_capability(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{MODEL}/2024.1")
    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"1"'
    model = response.json()
    assert model["version"] == "2024.1"
    assert model["weighting"]
    capabilities = model["capabilities"]
    assert len(capabilities) == 26
    keys = {c["key"] for c in capabilities}
    assert len(keys) == 26
    for c in capabilities:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", c["key"]), c["key"]
        assert c["area"] in AREAS
        assert c["kind"] in {"asset", "activity"}
        assert c["title"].strip()
        assert c["description"].strip()
        assert c["audience"] in {"organisation", "system", "policy"}
        assert 0 <= c["weight"] <= 1
        assert c["targetMaturity"] in range(5)
        assert set(c["levels"]) == set(LEVELS)
        assert all(c["levels"][level].strip() for level in LEVELS)
        assert set(c["dependsOn"]) <= keys - {c["key"]}
        assert c["loopStage"] in LOOP_STAGES
        assert c["actions"]
        assert all(a.strip() for a in c["actions"])
        assert c["sources"]
    assert {c["area"] for c in capabilities} == AREAS


def citations(model: Json, table: int) -> dict[str, list[tuple[int, int]]]:
    """capability key -> [(rank, percentage)] of its sources in one table."""
    cited: dict[str, list[tuple[int, int]]] = {}
    for c in model["capabilities"]:
        rows = [(s["rank"], s["percentage"]) for s in c["sources"] if s.get("table") == table]
        if rows:
            cited[c["key"]] = rows
    return cited


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("table", [3, 4])
async def test_every_table_row_is_traceable_with_its_percentage(
    client: httpx.AsyncClient, table: int, version: str
) -> None:
    model = await shipped(client, version)
    cited = citations(model, table)
    expected = PERCENTAGES[table]
    for key, rows in cited.items():
        for rank, percentage in rows:
            assert expected.get(rank) == percentage, f"{key} cites table {table} rank {rank}"
    ranks = {rank for rows in cited.values() for rank, _ in rows}
    assert ranks == set(expected)
    if table == 3:
        for rank, area in enumerate(TABLE_3_AREAS, start=1):
            areas = {
                capability(model, k)["area"] for k, rows in cited.items() if rank in dict(rows)
            }
            assert area in areas, f"Table 3 rank {rank} is not cited in area {area}"


@pytest.mark.parametrize("table", [3, 4])
async def test_weights_keep_the_reports_order(client: httpx.AsyncClient, table: int) -> None:
    """Model 2024.1. (2026.1 ranks by Table 4, then Table 3: test_engine_advice.py.)"""
    model = await shipped(client)
    weight = {c["key"]: c["weight"] for c in model["capabilities"]}
    cited = citations(model, table)
    for a, rows_a in cited.items():
        for b, rows_b in cited.items():
            if any(pa > pb for _, pa in rows_a for _, pb in rows_b):
                assert weight[a] >= weight[b], f"{a} cites more than {b} but weighs less"


@pytest.mark.parametrize("version", VERSIONS)
async def test_shipped_weights_follow_the_stated_derivation(
    client: httpx.AsyncClient, version: str
) -> None:
    model = await shipped(client, version)
    for c in model["capabilities"]:
        percentages = [s["percentage"] for s in c["sources"] if s.get("percentage") is not None]
        expected = max(percentages) / 100 if percentages else 0.30
        assert c["weight"] == pytest.approx(expected), c["key"]


async def test_capabilities_filter_by_area_and_audience(client: httpx.AsyncClient) -> None:
    model = await shipped(client)
    for name, value in (("area", "data"), ("audience", "system")):
        response = await client.get(f"{MODEL}/2024.1/capabilities?{name}={value}")
        assert response.status_code == 200
        got = [c["key"] for c in response.json()["items"]]
        expected = [c["key"] for c in model["capabilities"] if c[name] == value]
        assert got == expected
        assert 0 < len(got) < 26


async def test_unknown_version_and_bad_area_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{MODEL}/1999.1"), 404, "NOT_FOUND")
    assert_problem(await client.get(f"{MODEL}/1999.1/capabilities"), 404, "NOT_FOUND")
    bad = await client.get(f"{MODEL}/2024.1/capabilities?area=finance")
    assert assert_problem(bad, 422, "VALIDATION_FAILED")["errors"][0]["pointer"] == "area"


async def test_put_variant_is_listed_and_used_by_gap_analysis(client: httpx.AsyncClient) -> None:
    response = await put_variant(client, await variant_body(client))
    assert response.headers["location"].endswith(f"{MODEL}/{VARIANT}")
    assert response.headers["etag"] == 'W/"1"'
    assert capability(response.json(), "interoperable-data-sharing")["weight"] == 0.7
    fetched = await client.get(response.headers["location"])
    assert fetched.json() == response.json()
    items = {m["version"]: m for m in (await client.get(MODEL)).json()["items"]}
    assert items[VARIANT]["isDefault"] is False
    assert items[VARIANT]["basedOn"] == "2026.1"
    assert items["2026.2"]["isDefault"] is True

    org = await create_organisation(client)
    url = f"/v1/organisations/{org['id']}/gap-analysis"
    analysis = (await client.get(f"{url}?referenceModel={VARIANT}")).json()
    assert analysis["referenceModel"]["version"] == VARIANT
    weights = {r["capabilityKey"]: r["why"]["weight"] for r in analysis["recommendations"]}
    assert weights["interoperable-data-sharing"] == 0.7
    default = (await client.get(url)).json()
    assert default["referenceModel"]["version"] == "2026.2"


async def test_omitted_weights_are_derived(client: httpx.AsyncClient) -> None:
    body = await variant_body(client)
    for c in body["capabilities"]:
        del c["weight"]
    platform = next(c for c in body["capabilities"] if c["key"] == "data-platform")
    platform["sources"] = [{"recommendation": 2}]
    model = (await put_variant(client, body)).json()
    assert capability(model, "data-platform")["weight"] == 0.30
    assert capability(model, "analytics-workforce")["weight"] == 0.59  # max of 57% and 59%
    assert capability(model, "learning-culture")["weight"] == 0.70


async def test_replacing_a_variant_needs_the_current_etag(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    body = await variant_body(client)
    await put_variant(client, body)
    changed = body | {"title": "West Yorkshire variant, revised"}
    url = f"{MODEL}/{VARIANT}"
    before = await snapshot(backend.engine)
    assert_problem(await client.put(url, json=changed), 428, "PRECONDITION_REQUIRED")
    stale = await client.put(url, json=changed, headers={"If-Match": 'W/"7"'})
    assert_problem(stale, 412, "PRECONDITION_FAILED")
    assert await snapshot(backend.engine) == before
    replaced = await client.put(url, json=changed, headers={"If-Match": 'W/"1"'})
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["etag"] == 'W/"2"'
    assert (await client.get(url)).json()["title"] == "West Yorkshire variant, revised"


async def test_shipped_version_is_read_only(client: httpx.AsyncClient, backend: Backend) -> None:
    body = await shipped(client) | {"title": "Rewritten"}
    before = await snapshot(backend.engine)
    response = await client.put(f"{MODEL}/2024.1", json=body, headers={"If-Match": 'W/"1"'})
    assert_problem(response, 409, "CONFLICT")
    assert await snapshot(backend.engine) == before


async def test_model_pinned_by_an_assessment_cannot_change(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    body = await variant_body(client)
    await put_variant(client, body)
    org = await create_organisation(client)
    assessment = await client.post(
        f"/v1/organisations/{org['id']}/assessments", json={"referenceModel": VARIANT}
    )
    assert assessment.status_code == 201, assessment.text
    assert assessment.json()["referenceModel"]["version"] == VARIANT
    items = {m["version"]: m for m in (await client.get(MODEL)).json()["items"]}
    assert items[VARIANT]["inUse"] is True
    stored = (await client.get(f"{MODEL}/{VARIANT}")).json()
    before = await snapshot(backend.engine)
    response = await client.put(
        f"{MODEL}/{VARIANT}", json=body | {"title": "Changed"}, headers={"If-Match": 'W/"1"'}
    )
    assert_problem(response, 409, "CONFLICT")
    assert await snapshot(backend.engine) == before
    assert (await client.get(f"{MODEL}/{VARIANT}")).json() == stored


# (path into the body, new value, expected pointer, text the problem must mention).
# capabilities[1] is digital-skills, which depends on capabilities[0], digital-infrastructure;
# capabilities[7] is information-governance, which nothing depends on.
MIXED = {"table": 3, "rank": 1, "percentage": 68, "recommendation": 2}
INVALID: dict[str, tuple[tuple[str | int, ...], Any, str | None, str | None]] = {
    "duplicate-key": (("capabilities", 7, "key"), "data-platform", None, "data-platform"),
    "unknown-dependency": (("capabilities", 1, "dependsOn"), ["no-such-key"], None, "no-such-key"),
    "cycle": (("capabilities", 0, "dependsOn"), ["digital-skills"], None, "cycle"),
    "mixed-source": (("capabilities", 0, "sources"), [MIXED], "#/capabilities/0/sources/0", None),
    "weight": (("capabilities", 0, "weight"), 1.5, "#/capabilities/0/weight", None),
    "version": (("version",), "2024.2", "#/version", None),
    "based-on": (("basedOn",), "1999.1", "#/basedOn", None),
    "unknown-field": (("colour",), "red", "#/colour", None),
}


@pytest.mark.parametrize(
    ("path", "value", "pointer", "mentions"),
    list(INVALID.values()),
    ids=list(INVALID),
)
async def test_invalid_models_are_refused_and_write_nothing(
    client: httpx.AsyncClient,
    backend: Backend,
    path: tuple[str | int, ...],
    value: Any,
    pointer: str | None,
    mentions: str | None,
) -> None:
    body = await variant_body(client)
    *parents, last = path
    target: Any = body
    for part in parents:
        target = target[part]
    target[last] = value
    before = await snapshot(backend.engine)
    problem = assert_problem(
        await client.put(f"{MODEL}/{VARIANT}", json=body), 422, "VALIDATION_FAILED"
    )
    if pointer is not None:
        assert pointer in [e["pointer"] for e in problem["errors"]]
    if mentions is not None:
        assert mentions in problem["detail"] + str(problem["errors"])
    assert await snapshot(backend.engine) == before
    assert_problem(await client.get(f"{MODEL}/{VARIANT}"), 404, "NOT_FOUND")


async def test_asset_capability_key_must_exist_in_the_current_model(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    org = await create_organisation(client)
    known = await create_asset(client, org["id"], capabilityKey="data-platform")
    assert known["capabilityKey"] == "data-platform"
    before = await snapshot(backend.engine)
    created = await client.post(
        f"/v1/organisations/{org['id']}/assets",
        json={"area": "data", "name": "X", "maturity": 2, "capabilityKey": "no-such-capability"},
    )
    problem = assert_problem(created, 422, "VALIDATION_FAILED")
    assert [e["pointer"] for e in problem["errors"]] == ["#/capabilityKey"]
    patched = await client.patch(
        f"/v1/assets/{known['id']}",
        json={"capabilityKey": "no-such-capability"},
        headers={"If-Match": 'W/"1"'},
    )
    problem = assert_problem(patched, 422, "VALIDATION_FAILED")
    assert [e["pointer"] for e in problem["errors"]] == ["#/capabilityKey"]
    assert await snapshot(backend.engine) == before
