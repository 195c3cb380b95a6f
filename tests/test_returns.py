"""Crosswalks and imported returns through the app: the crosswalk list behind the
reference-model gate, the analysis by another framework's headings (JSON and CSV), and DMA and
NHS IMPACT imports (dry run, commit, replace, refusals) credited in the analysis."""

import csv
import io

import httpx

from app.db import utcnow
from tests.conftest import Backend, snapshot
from tests.helpers import EVIDENCED, assert_problem, create_asset, create_organisation
from tests.test_maps import comparable, scoped

CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}
YEAR = utcnow().year


def dma_file(*rows: str) -> bytes:
    return ("year,pillar,domain,score,validated\r\n" + "\r\n".join(rows) + "\r\n").encode()


def imports(organisation_id: str, kind: str, *, dry_run: bool = False) -> str:
    query = "?dryRun=true" if dry_run else ""
    return f"/v1/organisations/{organisation_id}/imports/{kind}{query}"


async def test_a_crosswalk_lists_every_mapping_as_the_models_judgement(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/reference-models/2026.2/crosswalks/nhs-impact")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["referenceModelVersion"] == "2026.2"
    assert body["headings"][0]["key"] == "shared-purpose-and-vision"
    assert len(body["headings"]) == 5
    first = body["items"][0]
    assert first["capabilityKey"] == "digital-infrastructure"
    assert set(first) == {"capabilityKey", "heading", "relationship", "rationale", "judgement"}
    assert {item["judgement"] for item in body["items"]} == {"model"}
    assert "own" in body["statement"]


async def test_the_crosswalk_is_reached_through_the_reference_model_gate(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """A model the caller may not see is refused as a model that does not exist; a retired
    one as new work with it is (409); a current model without a crosswalk is 404."""
    alpha = await create_organisation(client, name="Alpha ICS", organisationType="ics")
    beta = await create_organisation(client, name="Beta ICS", organisationType="ics")
    beta_admin = await scoped(backend, "admin", beta["id"])
    alpha_reader = await scoped(backend, "reader", alpha["id"])
    variant = (await client.get("/v1/reference-models/2026.2")).json() | {
        "version": "beta-private",
        "basedOn": "2026.2",
    }
    made = await client.put("/v1/reference-models/beta-private", json=variant, headers=beta_admin)
    assert made.status_code == 201, made.text

    def url(version: str) -> str:
        return f"/v1/reference-models/{version}/crosswalks/wgll"

    hidden = assert_problem(
        await client.get(url("beta-private"), headers=alpha_reader), 404, "NOT_FOUND"
    )
    unknown = assert_problem(
        await client.get(url("no-such-model"), headers=alpha_reader), 404, "NOT_FOUND"
    )
    assert comparable(hidden) | {"detail": ""} == comparable(unknown) | {"detail": ""}
    assert hidden["detail"].replace("beta-private", "X") == unknown["detail"].replace(
        "no-such-model", "X"
    )
    # The same refusals as reading the model itself.
    for version in ("beta-private", "no-such-model"):
        model = await client.get(f"/v1/reference-models/{version}", headers=alpha_reader)
        assert_problem(model, 404, "NOT_FOUND")
    # Its owner sees the variant, which has no crosswalk of its own.
    own = assert_problem(
        await client.get(url("beta-private"), headers=beta_admin), 404, "NOT_FOUND"
    )
    assert "has no crosswalk to wgll" in own["detail"]
    # Retired: refused as an analysis naming it is.
    retired = assert_problem(await client.get(url("2024.1")), 409, "MODEL_RETIRED")
    trust = await create_organisation(client)
    analysis = await client.get(
        f"/v1/organisations/{trust['id']}/gap-analysis?referenceModel=2024.1"
    )
    assert comparable(assert_problem(analysis, 409, "MODEL_RETIRED"))["detail"] == retired["detail"]
    older = assert_problem(await client.get(url("2026.1")), 404, "NOT_FOUND")
    assert "exist for: 2026.2" in older["detail"]
    assert_problem(
        await client.get("/v1/reference-models/2026.2/crosswalks/samm"), 422, "VALIDATION_FAILED"
    )


async def test_the_analysis_by_wgll_pillars_adds_a_view_and_leaves_the_default_alone(
    client: httpx.AsyncClient,
) -> None:
    trust = await create_organisation(client)
    await create_asset(
        client,
        trust["id"],
        area="technology",
        capabilityKey="digital-infrastructure",
        maturity=3,
        **EVIDENCED,
    )
    url = f"/v1/organisations/{trust['id']}/gap-analysis"
    plain = (await client.get(url)).json()
    assert plain["frameworkView"] is None
    viewed = (await client.get(url + "?view=wgll")).json()
    assert {k: v for k, v in viewed.items() if k not in {"frameworkView", "generatedAt"}} == {
        k: v for k, v in plain.items() if k not in {"frameworkView", "generatedAt"}
    }
    headings = {h["heading"]: h for h in viewed["frameworkView"]["headings"]}
    # digital-infrastructure (0.68) met; three others of the pillar (2.25 in all) not: 30.2.
    assert headings["smart-foundations"]["score"] == 30.2
    assert headings["smart-foundations"]["mappings"][0]["capabilityKey"] == "digital-infrastructure"

    response = await client.get(url + "?view=nmg&format=csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "gap-analysis-nmg-" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["heading"] for r in rows] == [
        "systems-of-leadership",
        "governance-and-management",
        "quality-improvement",
        "community-building-and-engagement",
        "data-and-analytics",
        "research",
    ]
    data = next(r for r in rows if r["heading"] == "data-and-analytics")
    assert "digital-infrastructure (intersect): 100.0" in data["mappings"]
    assert float(data["score"]) > 0

    system = await client.get(url + "?view=wgll&scope=system")
    assert_problem(system, 422, "VALIDATION_FAILED")
    older = assert_problem(
        await client.get(url + "?view=wgll&referenceModel=2026.1"), 422, "VALIDATION_FAILED"
    )
    assert older["errors"][0]["pointer"] == "view"


async def test_a_dma_return_is_checked_row_by_row_then_imported_and_credited(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client)
    await create_asset(
        client,
        trust["id"],
        area="data",
        capabilityKey="data-platform",
        maturity=1,
        confidence="self_assessed",
    )
    analysis_url = f"/v1/organisations/{trust['id']}/gap-analysis"
    before_import = (await client.get(analysis_url)).json()
    assert before_import["fromReturns"] == []
    file = dma_file(
        f"{YEAR},Smart foundations,,5,yes",
        f"{YEAR},well-led,,4,no",
        f"{YEAR},well-led,Leadership,3,no",
    )

    before = await snapshot(backend.engine)
    dry = await client.post(imports(trust["id"], "dma", dry_run=True), content=file, headers=CSV)
    assert dry.status_code == 200, dry.text
    assert dry.json()["dryRun"] is True
    assert [(r["row"], r["action"], r["id"]) for r in dry.json()["results"]] == [
        (2, "create", None),
        (3, "create", None),
        (4, "create", None),
    ]
    assert await snapshot(backend.engine) == before

    done = await client.post(imports(trust["id"], "dma"), content=file, headers=CSV)
    assert done.status_code == 200, done.text
    assert done.json()["created"] == 3
    analysis = (await client.get(analysis_url)).json()
    credited = {c["capabilityKey"]: c for c in analysis["fromReturns"]}
    assert "data-platform" not in credited  # its own record wins
    assert credited["digital-infrastructure"] | {} == credited["digital-infrastructure"]
    assert credited["digital-infrastructure"]["origin"] == f"dma {YEAR}"
    assert credited["digital-infrastructure"]["confidence"] == "peer_reviewed"
    assert credited["digital-infrastructure"]["creditedMaturity"] == 2  # target 3, at most 2
    gaps = {g["capabilityKey"]: g for g in analysis["gaps"]}
    assert gaps["digital-infrastructure"]["status"] == "needs_development"
    assert analysis["summary"]["provenance"]["byOrigin"]["return"] > 0
    assert analysis["returns"] == [
        {"framework": "dma", "year": YEAR, "origin": f"dma {YEAR}", "credits": 4, "warning": None}
    ]

    # The same file again changes nothing; a new version of the year replaces it.
    again = await client.post(imports(trust["id"], "dma"), content=file, headers=CSV)
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 3)
    replaced = await client.post(
        imports(trust["id"], "dma"),
        content=dma_file(f"{YEAR},smart-foundations,,2,yes"),
        headers=CSV,
    )
    assert replaced.json()["results"][0]["action"] == "update"
    after = (await client.get(analysis_url)).json()  # not the analysis remembered before
    credited = {c["capabilityKey"]: c for c in after["fromReturns"]}
    assert set(credited) == {"digital-infrastructure", "interoperable-data-sharing"}
    assert credited["digital-infrastructure"]["creditedMaturity"] == 1

    events = await client.get(f"/v1/audit-events?resourceType=return&organisationId={trust['id']}")
    assert events.status_code == 200, events.text
    assert [e["resourceId"] for e in events.json()["items"]] == [f"dma {YEAR}"] * 3


async def test_a_refused_return_says_what_it_got_and_expected_and_writes_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client)
    before = await snapshot(backend.engine)
    response = await client.post(
        imports(trust["id"], "dma"),
        content=dma_file(
            f"{YEAR},smart-foundations,,3,yes",
            f"{YEAR},Good vibes,,3,yes",
            f"{YEAR},safe-practice,,7,maybe",
            f"{YEAR + 1},well-led,,3,no",
            f"{YEAR},Smart Foundations,,4,no",
        ),
        headers=CSV,
    )
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    issues = [(e["line"], e["column"], e["message"]) for e in body["errors"]]
    assert issues[0][:2] == (3, "pillar")
    assert "Got 'Good vibes'" in issues[0][2]
    assert "smart-foundations (Ensure smart foundations)" in issues[0][2]
    assert issues[1][:2] == (4, "score")
    assert "Got '7'; expected a whole number from 1 to 5" in issues[1][2]
    assert issues[2][:2] == (4, "validated")
    assert "Got 'maybe'" in issues[2][2]
    assert issues[3][:2] == (5, "year")
    assert f"Got '{YEAR + 1}'" in issues[3][2]
    assert issues[4][:2] == (6, "pillar")
    assert "line 2 has it" in issues[4][2]
    assert await snapshot(backend.engine) == before

    component = await client.post(
        imports(trust["id"], "nhs-impact"),
        json=[{"year": YEAR, "component": "Leadership behaviours", "score": 4, "validated": True}],
        headers=JSON,
    )
    assert component.status_code == 200, component.text
    analysis = (await client.get(f"/v1/organisations/{trust['id']}/gap-analysis")).json()
    credited = {c["capabilityKey"] for c in analysis["fromReturns"]}
    assert credited == {"senior-learning-leadership", "leadership-at-all-levels"}
    wrong_column = await client.post(
        imports(trust["id"], "nhs-impact"),
        json=[{"year": YEAR, "pillar": "well-led", "score": 4}],
        headers=JSON,
    )
    problem = assert_problem(wrong_column, 422, "VALIDATION_FAILED")
    assert {e["pointer"] for e in problem["errors"]} == {"#/0/pillar", "#/0/component"}


async def test_a_return_template_is_a_sheet_its_import_takes(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client)
    for kind, header in (
        ("dma", ["year", "pillar", "domain", "score", "validated"]),
        ("nhs-impact", ["year", "component", "score", "validated"]),
    ):
        template = await client.get(f"/v1/imports/templates/{kind}")
        assert template.status_code == 200
        rows = list(csv.reader(io.StringIO(template.content.decode("utf-8-sig"))))
        assert rows[0] == header
        made = await client.post(imports(trust["id"], kind), content=template.content, headers=CSV)
        assert made.status_code == 200, made.text
        assert made.json()["created"] == 1


async def test_the_board_report_shows_the_view_when_asked(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client)
    url = f"/v1/organisations/{trust['id']}/report"
    plain = await client.get(url)
    assert plain.status_code == 200
    assert 'id="framework-view"' not in plain.text
    viewed = await client.get(url + "?view=nhs-impact")
    assert viewed.status_code == 200
    assert 'id="framework-view"' in viewed.text
    assert "In the words of NHS IMPACT" in viewed.text
    assert "Building a shared purpose and vision" in viewed.text


async def test_a_return_is_imported_by_an_editor_of_the_organisation_only(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client)
    other = await create_organisation(client, name="Other Trust")
    reader = await scoped(backend, "reader", trust["id"])
    elsewhere = await scoped(backend, "editor", other["id"])
    before = await snapshot(backend.engine)
    file = dma_file(f"{YEAR},well-led,,3,no")
    refused = await client.post(imports(trust["id"], "dma"), content=file, headers=CSV | reader)
    assert_problem(refused, 403, "FORBIDDEN")
    hidden = await client.post(imports(trust["id"], "dma"), content=file, headers=CSV | elsewhere)
    assert_problem(hidden, 404, "NOT_FOUND")
    assert await snapshot(backend.engine) == before


async def test_a_json_returns_rows_are_counted_as_its_refusals_count_them(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """The first item of a JSON array is row 1, in the answer as in a refusal; a domain that is
    not text, or holds a character no text here may hold (NUL cannot even be stored in
    PostgreSQL), is a refused row, not a 500 or a stored repr."""
    trust = await create_organisation(client)
    item = {"year": YEAR, "pillar": "well-led", "score": 3}
    done = await client.post(
        imports(trust["id"], "dma", dry_run=True), json=[item, item | {"domain": "x"}]
    )
    assert done.status_code == 200, done.text
    assert [r["row"] for r in done.json()["results"]] == [1, 2]
    refused = await client.post(
        imports(trust["id"], "dma"), json=[item | {"score": 9}], headers=JSON
    )
    assert [e["line"] for e in assert_problem(refused, 422, "VALIDATION_FAILED")["errors"]] == [1]

    before = await snapshot(backend.engine)
    for domain in ("a\u0000b", "a\u202eb", {"x": 1}, ["x"]):
        response = await client.post(
            imports(trust["id"], "dma"), json=[item | {"domain": domain}], headers=JSON
        )
        problem = assert_problem(response, 422, "VALIDATION_FAILED")
        assert [(e["line"], e["column"]) for e in problem["errors"]] == [(1, "domain")]
    assert await snapshot(backend.engine) == before
