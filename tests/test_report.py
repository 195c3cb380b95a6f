"""The board report over HTTP: what a board sees in the HTML page, the CSV, and the problems."""

import base64
import csv
import hashlib
import io
import re
from datetime import datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any

import httpx

from app.reference.parts import Source
from app.report import render, spreadsheet, wording
from app.transfer.cells import neutralise
from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_organisation
from tests.report_seed import evidenced_asset, seed_system

Json = dict[str, Any]
HOSTILE = '<script>alert("board")</script> & <img src=x onerror=alert(1)>'


class Page(HTMLParser):
    """The tags, attributes and text of a page, to check it as a browser would read it."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self._in_style = False
        self.source = html
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.text).append(data)

    @property
    def words(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text))

    def ids(self) -> set[str]:
        return {a["id"] or "" for _, a in self.tags if "id" in a}


def report_url(organisation_id: str, query: str = "") -> str:
    return f"/v1/organisations/{organisation_id}/report{query}"


async def get_page(client: httpx.AsyncClient, organisation_id: str, query: str = "") -> Page:
    response = await client.get(report_url(organisation_id, query))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return Page(response.text)


async def analysis(client: httpx.AsyncClient, organisation_id: str, query: str = "") -> Json:
    response = await client.get(f"/v1/organisations/{organisation_id}/gap-analysis{query}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def assert_self_contained(page: Page) -> None:
    """Nothing to fetch, nothing to run: one <style> block, no scripts or handlers."""
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags
    assert tags.count("style") == 1
    for tag, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert "style" not in attrs, (tag, attrs)
        for name in ("src", "href", "srcset", "action"):
            value = attrs.get(name)
            assert value is None or value.startswith(("#", "data:", "url(#")), (tag, attrs)
        if tag == "link":
            assert attrs.get("rel") == "icon"
            assert attrs.get("href") == "data:,"
    assert "@import" not in page.styles[0]
    assert "url(" not in page.styles[0]


async def test_report_shows_the_organisation_its_scores_and_what_to_do(
    client: httpx.AsyncClient,
) -> None:
    org = await create_organisation(client, name="Leeds Teaching Hospitals", odsCode="rr8")
    await evidenced_asset(client, org["id"], "analytics-workforce", "data")
    live = await analysis(client, org["id"])
    page = await get_page(client, org["id"])
    words = page.words
    assert_self_contained(page)
    assert "Leeds Teaching Hospitals" in words
    assert "ODS RR8" in words
    assert f"Reference model {live['referenceModel']['version']}" in words
    assert wording.day(datetime.fromisoformat(live["generatedAt"])) in words
    # The chart: one bar and one value per area, as the analysis scores them.
    assert "area-chart" in page.ids()
    bars = [a for tag, a in page.tags if tag == "rect" and a.get("class") == "bar"]
    assert len(bars) == len(live["summary"]["areas"]) == 4
    for area in live["summary"]["areas"]:
        assert f"{wording.label(area['area'])} {area['score']:g}" in chart_title(page)
    # The top recommendations, in the analysis's order, with why, actions and sources.
    top = live["recommendations"][: render.TOP_RECOMMENDATIONS]
    positions = [words.index(r["title"]) for r in top]
    assert positions == sorted(positions)
    first = top[0]
    assert f"Priority score {first['priorityScore']:g}" in words
    assert all(action in words for action in first["actions"])
    source = first["sources"][0]
    assert wording.source(Source.model_validate(source)) in words
    # Getting started and the learning cycle.
    for step in live["gettingStarted"]["steps"]:
        assert step["title"] in words
    for link in live["learningLoop"]["links"]:
        assert link["explanation"] in words
    # No members, no assessments: no system view and no trend.
    assert not {"system", "heat-map", "trend"} & page.ids()


def chart_title(page: Page) -> str:
    return next(t for t in page.text if t.startswith("Score by area:"))


async def test_every_typed_name_is_escaped(client: httpx.AsyncClient) -> None:
    ids = await seed_system(client, member_name=HOSTILE)
    for organisation in ("ics", "leeds"):  # in the heat map; its own report
        response = await client.get(report_url(ids[organisation]))
        assert response.status_code == 200
        assert "<script>" not in response.text
        assert "<img" not in response.text
        assert "&lt;script&gt;alert(&#34;board&#34;)&lt;/script&gt; &amp; &lt;img" in response.text
        page = Page(response.text)
        assert_self_contained(page)
        assert HOSTILE in page.words
    own = await create_organisation(client, name=HOSTILE, organisationType="network")
    page = await get_page(client, own["id"])
    assert_self_contained(page)
    assert page.words.count(HOSTILE) >= 2  # the title, the heading, the footer


async def test_a_system_gets_a_members_by_areas_heat_map(client: httpx.AsyncClient) -> None:
    ids = await seed_system(client, member_name="Leeds Teaching Hospitals")
    system = await analysis(client, ids["ics"], "?scope=system")
    page = await get_page(client, ids["ics"])
    assert {"system", "heat-map"} <= page.ids()
    assert f"The system: {system['summary']['members']} members" in page.words
    # Each cell is what the system view says: capabilities met / capabilities in the area
    # that apply to the member (those whose coverage lists it, meeting or not).
    areas = list(dict.fromkeys(c["area"] for c in system["capabilities"]))
    expected: dict[str, list[str]] = {}
    for name in ("Bradford District Care", "Calderdale Practice", "Leeds Teaching Hospitals"):
        cells = []
        for area in areas:
            in_area = [c for c in system["capabilities"] if c["area"] == area]
            met = sum(1 for c in in_area if name in {m["name"] for m in c["meeting"]})
            applies = sum(1 for c in in_area if name in listed(c))
            cells.append(f"{met}/{applies}")
        expected[name] = cells
    assert heat_rows(page) == expected
    assert expected["Leeds Teaching Hospitals"] != expected["Bradford District Care"]
    first = system["recommendations"][0]
    assert first["title"] in page.words
    assert wording.label(first["strategy"]) in page.words
    # A member alone has no system view.
    assert "heat-map" not in (await get_page(client, ids["bradford"])).ids()


def listed(coverage: dict[str, Any]) -> set[str]:
    """The members a capability applies to, as the system view lists them."""
    return {m["name"] for m in coverage["meeting"] + coverage["notMeeting"]}


async def test_a_members_count_is_like_with_like_in_every_view(client: httpx.AsyncClient) -> None:
    """A practice is not measured against what does not apply to a practice: its analysis,
    the system view and the board report's heat map give it the same "of N"."""
    ids = await seed_system(client, member_name="Leeds Teaching Hospitals")
    own = (await analysis(client, ids["practice"]))["summary"]
    system = await analysis(client, ids["ics"], "?scope=system")
    every = len(system["capabilities"])
    assert own["notApplicable"] > 0  # some capabilities do not apply to a GP practice
    assert own["capabilitiesTotal"] == every - own["notApplicable"]
    applies = [c for c in system["capabilities"] if "Calderdale Practice" in listed(c)]
    met = [c for c in applies if "Calderdale Practice" in {m["name"] for m in c["meeting"]}]
    assert (len(met), len(applies)) == (own["capabilitiesMet"], own["capabilitiesTotal"])
    page = await get_page(client, ids["ics"])
    start = page.source.index('id="heat-map"')
    table = page.source[start : page.source.index("</table>", start)]
    row = re.search(r'<th scope="row">Calderdale Practice</th>.*?<td class="num">(.*?)</td>', table)
    assert row is not None
    assert row.group(1) == f"{own['capabilitiesMet']} of {own['capabilitiesTotal']}"
    cells = heat_rows(page)["Calderdale Practice"]
    assert sum(int(cell.split("/")[1]) for cell in cells) == own["capabilitiesTotal"]


def heat_rows(page: Page) -> dict[str, list[str]]:
    """Read the heat map's rows back out of the page: member name, then its cells."""
    rows: dict[str, list[str]] = {}
    start = page.source.index('id="heat-map"')
    table = page.source[start : page.source.index("</table>", start)]
    for name, cells in re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', table, re.S):
        rows[unescape(name)] = re.findall(r'<td class="cell band-\d">(\d+/\d+)</td>', cells)
    return rows


async def test_progress_since_the_first_and_the_last_assessment(
    client: httpx.AsyncClient,
) -> None:
    org = await create_organisation(client, name="Leeds Teaching Hospitals")
    await evidenced_asset(client, org["id"], "analytics-workforce", "data")
    url = f"/v1/organisations/{org['id']}/assessments"
    stored = await client.post(url, json={"label": "Q1"})
    assert stored.status_code == 201
    before = stored.json()["analysis"]
    await evidenced_asset(client, org["id"], "learning-community", "learning_communities")
    now = await analysis(client, org["id"])
    page = await get_page(client, org["id"])
    words = page.words
    assert "trend" in page.ids()
    # One stored assessment: the first is the last, said once.
    assert "Since the first assessment" not in words
    assert "Since the last assessment (since “Q1”" in words
    change = round(now["summary"]["overallScore"] - before["summary"]["overallScore"], 1)
    assert change > 0
    then, later = before["summary"]["overallScore"], now["summary"]["overallScore"]
    assert f"overall score {then:g} then, {later:g} now: ▲ +{change:g}" in words
    community = next(g for g in now["gaps"] if g["capabilityKey"] == "learning-community")
    if community["status"] == "met":
        assert f"Now met {community['title']}" in words

    # Stored again with nothing new since: the last says no change, the first still the rise
    # the chart shows.
    assert (await client.post(url, json={"label": "Q2"})).status_code == 201
    words = (await get_page(client, org["id"])).words
    first_day = wording.day(datetime.fromisoformat(stored.json()["createdAt"]))
    assert (
        f"Since the first assessment (since “Q1”, {first_day}): "
        f"overall score {then:g} then, {later:g} now: ▲ +{change:g}"
    ) in words
    assert "Since the last assessment (since “Q2”" in words
    assert f"overall score {later:g} then, {later:g} now: no change." in words
    assert words.index("Since the first assessment") < words.index("Since the last assessment")


async def test_csv_has_one_row_per_recommendation_with_the_documented_header(
    client: httpx.AsyncClient,
) -> None:
    ids = await seed_system(client, member_name="Leeds Teaching Hospitals")
    own = await analysis(client, ids["ics"])
    system = await analysis(client, ids["ics"], "?scope=system")
    by_query = await client.get(report_url(ids["ics"], "?format=csv"))
    by_accept = await client.get(report_url(ids["ics"]), headers={"Accept": "text/csv"})
    for response in (by_query, by_accept):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
        assert response.headers["content-disposition"].startswith(
            'attachment; filename="lhs-recommendations-QWO-'
        )
        assert response.content.startswith("\ufeff".encode())
    rows = read_csv(by_query)
    assert list(rows[0]) == list(spreadsheet.COLUMNS)
    assert rows == read_csv(by_accept)
    expected = [("organisation", r) for r in own["recommendations"]] + [
        ("system", r) for r in system["recommendations"]
    ]
    assert [(r["view"], r["rank"], r["capabilityKey"]) for r in rows] == [
        (view, str(r["rank"]), r["capabilityKey"]) for view, r in expected
    ]
    first = rows[0]
    assert first["priorityScore"] == str(own["recommendations"][0]["priorityScore"])
    assert first["actions"].split("\n") == own["recommendations"][0]["actions"]
    spread = next(r for r in rows if r["strategy"] == "spread_from_members")
    assert spread["peers"]  # the members to spread it from, by name


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def test_csv_cells_cannot_run_as_formulas(client: httpx.AsyncClient) -> None:
    formula = '=HYPERLINK("https://evil.example","Click")'
    ids = await seed_system(client, member_name=formula)
    for name in ("+SUM(A1:A2)", "-2+3", "@SUM(1)"):
        member = await create_organisation(client, name=name, parentId=ids["ics"])
        await evidenced_asset(client, member["id"], "learning-culture", "improvement")
    rows = []
    for organisation in ids.values():  # names reach the CSV as peers and members to spread from
        rows += read_csv(await client.get(report_url(organisation, "?format=csv")))
    cells = [cell for row in rows for cell in row.values()]
    assert any(formula in cell for cell in cells)
    assert [c for c in cells if c[:1] in ("=", "+", "-", "@")] == []
    hostile = (formula, "+SUM(A1:A2)", "-2+3", "@SUM(1)")
    first_lines = {cell.split("\n")[0] for cell in cells}
    assert first_lines & {"'" + name for name in hostile}
    assert not first_lines & set(hostile)
    assert neutralise("-2+3") == "'-2+3"
    assert neutralise("Bradford") == "Bradford"


async def test_negotiation_and_problems(client: httpx.AsyncClient, backend: Backend) -> None:
    org = await create_organisation(client)
    before = await snapshot(backend.engine)
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    assert (
        (await client.get(report_url(org["id"]), headers=browser))
        .headers["content-type"]
        .startswith("text/html")
    )
    prefers_csv = {"Accept": "text/csv, text/html;q=0.5"}
    assert (
        (await client.get(report_url(org["id"]), headers=prefers_csv))
        .headers["content-type"]
        .startswith("text/csv")
    )
    query_wins = await client.get(report_url(org["id"], "?format=html"), headers=prefers_csv)
    assert query_wins.headers["content-type"].startswith("text/html")
    missing = "0b9e0000-0000-4000-8000-000000000000"
    body = assert_problem(await client.get(report_url(missing), headers=browser), 404, "NOT_FOUND")
    assert missing in body["detail"]
    body = assert_problem(
        await client.get(report_url(org["id"]), headers={"Accept": "application/json"}),
        406,
        "NOT_ACCEPTABLE",
    )
    assert body["errors"][0]["pointer"] == "Accept"
    assert_problem(
        await client.get(report_url(org["id"]), headers={"Accept": "nonsense"}), 400, "BAD_REQUEST"
    )
    body = assert_problem(
        await client.get(report_url(org["id"], "?format=docx")), 422, "VALIDATION_FAILED"
    )
    assert body["errors"][0]["pointer"] == "format"
    body = assert_problem(
        await client.get(report_url(org["id"], "?referenceModel=1999.9")), 422, "VALIDATION_FAILED"
    )
    assert body["errors"][0]["pointer"] == "referenceModel"
    assert_problem(await client.get(report_url("not-a-uuid")), 422, "VALIDATION_FAILED")
    head = await client.head(report_url(org["id"]))
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == "text/html; charset=utf-8"
    # One write: the CSV's export event (the refused requests wrote nothing).
    after = await snapshot(backend.engine)
    exports = set(after.pop("audit_event")) - set(before.pop("audit_event"))
    assert after == before
    assert len(exports) == 1
    assert "export" in exports.pop()


async def test_the_style_block_matches_its_published_hash(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    page = await get_page(client, org["id"])
    digest = hashlib.sha256(page.styles[0].encode()).digest()
    assert render.style_csp_source() == f"'sha256-{base64.b64encode(digest).decode()}'"


def test_values_a_later_model_adds_read_as_words() -> None:
    assert wording.label("not_applicable") == "Not applicable"
    assert wording.label("needs_development") == "Needs development"
    assert wording.maturity(3) == "3 (established)"
