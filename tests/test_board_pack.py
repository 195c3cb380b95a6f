"""The board pack: what the score rests on, the sections in a board's order, the help the
model names, the plan table, and the PDF read back page by page."""

import http.server
import io
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import PIL.Image
import pypdfium2
import pytest
from pypdf import PdfReader

from app.report import pdf, render, wording
from tests.helpers import create_activity, create_asset, create_organisation
from tests.report_seed import evidenced_asset, seed_system
from tests.test_plan_items import create_plan_item
from tests.test_report import analysis, get_page, report_url

Json = dict[str, Any]
# The sections of the board pack, in the order a board reads them.
SECTIONS = [
    "What is going well",
    "What to do first",
    "The plan",
    "What we need from others",
    "What the score rests on",
    "The system:",
    "The learning cycle",
    "Getting started",
]


async def seed(client: httpx.AsyncClient) -> dict[str, str]:
    """The report's small system, and for one member claims of every confidence."""
    ids = await seed_system(client, member_name="Leeds Teaching Hospitals")
    leeds = ids["leeds"]
    await create_asset(
        client,
        leeds,
        area="improvement",
        capabilityKey="senior-learning-leadership",
        name="Board sponsor",
        maturity=3,
        confidence="self_assessed",
    )
    await create_activity(client, leeds, title="Ward huddles", capabilityKey="learning-culture")
    return ids


def total(breakdown: Json) -> float:
    return round(sum(breakdown.values()), 1)


async def test_the_score_s_provenance_adds_up_in_both_views(client: httpx.AsyncClient) -> None:
    ids = await seed(client)
    own = (await analysis(client, ids["leeds"]))["summary"]
    provenance = own["provenance"]
    assert set(provenance["byConfidence"]) == {
        "selfAssessed",
        "peerReviewed",
        "evidenced",
        "unrated",
    }
    # Every point of the score is in each breakdown, exactly.
    assert total(provenance["byConfidence"]) == own["overallScore"]
    assert provenance["byOrigin"] == {"records": own["overallScore"], "questionnaire": 0}
    assert provenance["moderated"] == 0
    assert provenance["byConfidence"]["evidenced"] > 0
    assert provenance["byConfidence"]["selfAssessed"] > 0
    assert provenance["byConfidence"]["unrated"] > 0  # the activity
    assert provenance["byConfidence"]["peerReviewed"] == 0

    system = (await analysis(client, ids["ics"], "?scope=system"))["summary"]
    assert total(system["provenance"]["byConfidence"]) == system["overallScore"]
    assert system["provenance"]["byOrigin"] == {
        "records": system["overallScore"],
        "questionnaire": 0,
    }

    # An organisation with nothing recorded has nothing to break down.
    empty = await create_organisation(client, name="Nothing yet")
    summary = (await analysis(client, empty["id"]))["summary"]
    assert summary["overallScore"] == 0
    assert set(summary["provenance"]["byConfidence"].values()) == {0}

    # The report says how much rests on self-assessment alone.
    words = (await get_page(client, ids["leeds"])).words
    alone = provenance["byConfidence"]["selfAssessed"]
    share = wording.share(alone, own["overallScore"])
    assert (
        f"{alone:g} of the {own['overallScore']:g} points ({share}) rest on self-assessment alone"
    ) in words


async def test_the_board_pack_reads_in_a_board_s_order(client: httpx.AsyncClient) -> None:
    ids = await seed(client)
    live = await analysis(client, ids["ics"])
    page = await get_page(client, ids["ics"])
    words = page.words
    positions = [words.index(heading) for heading in SECTIONS]
    assert positions == sorted(positions)
    # What is going well: the met capabilities and what shows them.
    met = [g for g in live["gaps"] if g["status"] == "met"]
    assert met
    for gap in met:
        assert gap["title"] in words[: words.index("What to do first")]
        assert gap["evidence"][0]["name"] in words
    # What to do first: plain words, the Box 11 sentence, numbers only in the footnotes.
    assert wording.BOX11_FIRST in words
    first = live["recommendations"][0]
    notes = words.index("How the order is worked out")
    assert words.index(f"Priority score {first['priorityScore']:g}") > notes
    assert "On the list because" in words[:notes]
    # What we need from others: each open gap's national enabler, with its citation.
    others = words[words.index("What we need from others") :]
    for item in live["recommendations"]:
        if item["nationalEnabler"]:
            assert item["nationalEnabler"]["action"] in others
    # No plan items yet: the plan section says so and names the top five as unplanned.
    plan = words[words.index("The plan") : words.index("What we need from others")]
    assert "No plan items yet" in plan
    assert "No plan yet for 5 of the top recommendations" in plan


async def test_an_own_duty_is_ours_to_do_not_the_icb_s(client: httpx.AsyncClient) -> None:
    """Information governance is each organisation's own duty (model 2026.2): the pack never
    tells a trust to ask the ICB for it, and says who nearby can show how."""
    ids = await seed(client)
    own = await analysis(client, ids["leeds"])
    (duty,) = [r for r in own["recommendations"] if r["capabilityKey"] == "information-governance"]
    words = (await get_page(client, ids["leeds"])).words
    others = words[words.index("What we need from others") : words.index("What the score rests")]
    icb_part = others[others.index("From the integrated care board") : others.index("Ours to do")]
    ours = others[others.index("Ours to do, with help nearby") :]
    assert duty["title"] not in icb_part
    assert duty["title"] in ours
    assert "a shared record elsewhere does not count for it" in ours


async def test_model_2026_2_names_the_help_the_source_offers(client: httpx.AsyncClient) -> None:
    model = (await client.get("/v1/reference-models/2026.2")).json()
    helped = {c["key"]: c["help"] for c in model["capabilities"] if c["help"]}
    names = {h["name"] for items in helped.values() for h in items}
    assert {
        "LHS Toolkit",
        "Q community",
        "HDR UK's Better Care programme",
        "NHS-R",
        "Association of Professional Healthcare Analysts (AphA)",
    } <= names
    # Each is cited, and the source gives no addresses: none is made up.
    items = [h for items in helped.values() for h in items]
    assert all(h["source"]["recommendation"] for h in items)
    assert all(h["url"] is None for h in items)
    older = (await client.get("/v1/reference-models/2026.1")).json()
    assert not any(c["help"] for c in older["capabilities"])

    # A trust past the first Box 11 steps is told where to find help for what comes next.
    trust = await create_organisation(client, name="Help Wanted Trust")
    for key, area in [
        ("care-improvement-priorities", "improvement"),
        ("learning-community", "learning_communities"),
        ("improvement-ambition", "improvement"),
        ("senior-learning-leadership", "improvement"),
    ]:
        await evidenced_asset(client, trust["id"], key, area)
    live = await analysis(client, trust["id"])
    words = (await get_page(client, trust["id"])).words
    shown = [
        h
        for r in live["recommendations"][: render.TOP_RECOMMENDATIONS]
        for h in helped.get(r["capabilityKey"], [])
    ]
    assert shown, "a top recommendation with help"
    for h in shown:
        assert f"{h['name']} ({wording.label(h['kind']).lower()}): {h['what']}" in words


async def test_the_plan_table_lists_overdue_items_first_with_their_rag(
    client: httpx.AsyncClient,
) -> None:
    """Plan items made through the API, read back in the board pack: overdue first, each with
    its red/amber/green rating, the review date, and the top recommendations with no plan."""
    ids = await seed(client)
    leeds = ids["leeds"]
    top = [r["capabilityKey"] for r in (await analysis(client, leeds))["recommendations"][:5]]
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    await create_plan_item(
        client, leeds, capabilityKey=top[0], title="Later", dueDate="2099-03-01", rag="green"
    )
    await create_plan_item(client, leeds, capabilityKey=top[1], title="Undated", rag="amber")
    await create_plan_item(
        client,
        leeds,
        capabilityKey=top[1],
        title="Late",
        dueDate=yesterday,
        owner="Chief nurse",
        status="active",
        rag="red",
    )
    review = await client.patch(
        f"/v1/organisations/{leeds}",
        json={"nextReviewDue": yesterday},
        headers={"If-Match": (await client.get(f"/v1/organisations/{leeds}")).headers["ETag"]},
    )
    assert review.status_code == 200, review.text
    text = re.sub(r"\s+", " ", " ".join((await get_page(client, leeds)).text))
    plan = text[text.index("The plan") : text.index("What we need from others")]
    # Each recommendation says what the plan does about it; the rest say nothing is planned.
    advice = text[text.index("What to do first") : text.index("The plan")]
    assert re.search(r"In the plan: Late \(Chief nurse, due [^)]*, active, overdue\)", advice)
    assert advice.count("In the plan: nothing yet.") == 3
    assert plan.index("Late") < plan.index("Later") < plan.index("Undated")
    assert "Red Overdue" in plan
    assert "Chief nurse" in plan
    assert "No owner" in plan
    assert "No date" in plan
    assert re.search(r"Next review due \d+ \w+ \d{4}, overdue\.", plan)
    # Three of the top five have nothing planned: the page names them.
    assert "No plan yet for 3 of the top recommendations" in plan


def non_white_share(page: Any) -> float:
    histogram = page.render(scale=0.5).to_pil().convert("L").histogram()
    return float(sum(histogram[:240]) / sum(histogram))


@pytest.mark.slow
async def test_the_pdf_is_a_tagged_a4_board_pack(client: httpx.AsyncClient) -> None:
    ids = await seed(client)
    by_query = await client.get(report_url(ids["ics"], "?format=pdf"))
    assert by_query.status_code == 200, by_query.text
    assert by_query.headers["content-type"] == "application/pdf"
    assert by_query.headers["content-disposition"].startswith(
        'attachment; filename="lhs-report-QWO-'
    )
    by_accept = await client.get(report_url(ids["ics"]), headers={"Accept": "application/pdf"})
    assert by_accept.headers["content-type"] == "application/pdf"
    # A file that leaves the service, on record like the CSV.
    events = await client.get("/v1/audit-events", params={"action": "export"})
    formats = [
        {c["field"]: c["after"] for c in e["changes"]}.get("format")
        for e in events.json()["items"]
        if e["resourceType"] == "report" and e["organisationId"] == ids["ics"]
    ]
    assert formats == ["pdf", "pdf"]

    reader = PdfReader(io.BytesIO(by_query.content))
    pages = len(reader.pages)
    assert pages >= 3
    assert reader.metadata is not None
    assert reader.metadata.title == "Learning health system report: West Yorkshire ICS"
    catalog = reader.root_object
    assert str(catalog["/Lang"]) == "en-GB"
    assert "/StructTreeRoot" in catalog  # tagged: a reader reads it in order
    for page in reader.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert (round(width), round(height)) == (595, 842)  # A4 in points
    texts = [page.extract_text() for page in reader.pages]
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {pages}" in text
    # The sections in a board's order, across pages.
    whole = re.sub(r"\s+", " ", " ".join(texts))
    positions = [whole.index(heading) for heading in SECTIONS]
    assert positions == sorted(positions)
    # No page ends on a heading: each heading has what it introduces on its own page.
    headings = {
        *SECTIONS,
        "Capabilities met, and what shows it",
        "How the order is worked out",
        "From national bodies",
        "Progress",
    }
    running = re.compile(r"Page \d+ of \d+|^Learning health system report$")
    for text in texts:
        lines = [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not running.search(line.strip())
        ]
        assert not any(lines[-1].startswith(h) for h in headings), lines[-3:]
    # Every page has something drawn on it (charts included: the first page's bars).
    document = pypdfium2.PdfDocument(by_query.content)
    shares = [non_white_share(document[i]) for i in range(len(document))]
    assert all(share > 0.01 for share in shares), shares


class Listener:
    """A local web server that records every request it gets: what a PDF must never call."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.paths.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
async def test_the_pdf_fetches_nothing_whatever_the_text_or_the_page_says(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Markup typed into a name, a title or notes is printed as text, and WeasyPrint fetches no
    URL and reads no file even when the page itself names one (the page is ours, but a later
    template or chart must not turn the PDF into a way to read the server's files or reach
    its network)."""
    listener = Listener()
    try:
        image = tmp_path / "secret.png"
        PIL.Image.new("RGB", (40, 40), "red").save(image)
        hostile = f'<img src="{listener.url}/name"><img src="{image.as_uri()}">'
        ics = await create_organisation(
            client, name="ICS <script>x</script>", organisationType="ics"
        )
        await create_asset(client, ics["id"], name=f"url({listener.url}/asset)")
        await create_plan_item(
            client,
            ics["id"],
            title=hostile[:200],
            notes=f"<style>@import url({listener.url}/notes);</style>",
        )
        response = await client.get(report_url(ics["id"], "?format=pdf"))
        assert response.status_code == 200, response.text
        reader = PdfReader(io.BytesIO(response.content))
        text = " ".join(page.extract_text() for page in reader.pages)
        # Shown, not obeyed.
        assert "<script>" in text
        assert "<img" in text
        # The page itself naming a URL, a file and a stylesheet: still nothing fetched or read.
        page = (
            f'<html><head><link rel="stylesheet" href="{listener.url}/sheet.css">'
            f"<style>@import url({listener.url}/import.css);"
            f"body {{ background: url({listener.url}/background.png) }}</style></head>"
            f'<body><p>Report</p><img src="{listener.url}/page.png"><img src="{image.as_uri()}">'
            "</body></html>"
        )
        written = PdfReader(io.BytesIO(pdf.pdf_bytes(page)))
        assert "Report" in written.pages[0].extract_text()
        assert [len(p.images) for p in written.pages] == [0]
    finally:
        listener.close()
    assert listener.paths == []


async def test_a_long_plan_prints_its_first_rows_and_says_how_many_more(
    client: httpx.AsyncClient,
) -> None:
    """An import may give an organisation thousands of plan items; laid out whole, 1,500 took
    the one PDF lane of a worker 35 s (and 100,000, the import's size bound, would take it
    for the better part of an hour). The pack shows the first rows (overdue first) and says
    where the rest are."""
    ics = await create_organisation(client, name="Busy ICS", organisationType="ics")
    shown = render.PLAN_ROWS
    sheet = "externalId,capabilityKey,title,dueDate\r\n" + "".join(
        f"P-{n},data-platform,Item {n:03},2099-01-01\r\n" for n in range(shown + 7)
    )
    sheet += "LATE,data-platform,The late one,2020-01-01\r\n"
    made = await client.post(
        f"/v1/organisations/{ics['id']}/imports/plan_items",
        content=sheet,
        headers={"Content-Type": "text/csv"},
    )
    assert made.json()["created"] == shown + 8, made.text
    page = await get_page(client, ics["id"])
    text = re.sub(r"\s+", " ", " ".join(page.text))
    plan = text[text.index("The plan") :]
    assert plan.index("The late one") < plan.index("Item 000")
    assert f"Item {shown - 2:03}" in plan
    assert f"Item {shown - 1:03}" not in plan
    assert "8 more plan items" in plan
    rows = page.source.split('<table class="plan">')[1].split("</table>")[0].count("<tr>")
    assert rows == shown + 1  # the heading's row and the items shown
