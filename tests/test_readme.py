"""The README's curl walk-through works as written, against a real server."""

import asyncio
import re
import shutil
from pathlib import Path

import httpx
import openpyxl
import pytest

from app.config import PROJECT_ROOT
from tests.conftest import ServerUrl


def walk_through() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A first session with curl", 1)[1]
    return section.split("```sh", 1)[1].split("```", 1)[0]


@pytest.fixture
def server(shared_server: ServerUrl) -> ServerUrl:
    """A real server, none of this module's own (no settings, no measure of its process): the
    one the worker shares (tests/conftest.py)."""
    return shared_server


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_the_curl_session_of_the_readme_runs(
    server: str, client: httpx.AsyncClient, api_key: str, tmp_path: Path
) -> None:
    script = walk_through()
    assert "http://127.0.0.1:8000/v1" in script
    # The only change: the test server's port instead of make run's 8000.
    script = script.replace("http://127.0.0.1:8000", server)
    # Stop at the first HTTP error, as a reader would. (No pipefail: `| head` closes early.)
    script = 'set -eu\ncurl() { command curl --fail-with-body "$@"; }\n' + script
    # As from the project directory after `make run`: the local admin key in its file.
    (tmp_path / ".lhs-admin-key").write_text(api_key + "\n", encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = output.decode()
    assert process.returncode == 0, text
    # What to do first: Box 11 step 1, which gettingStarted names too.
    assert "1 Where care needs improving, and who is already working on it - score" in text
    assert "- Box 11 step 1 -" in text
    assert '"scope": "system"' in text
    # A plan item for the first recommendation, in the analysis's plan and the report's table.
    assert (
        "amber - Agree three improvement priorities with the board - owner Director of quality "
        "improvement - due 2027-03-31 - overdue False"
    ) in text
    assert "Top recommendations with no plan yet:" in text
    assert re.search(
        r"The plan .*Amber .*Agree three improvement priorities with the board .*"
        r"Director of quality improvement 31 March 2027",
        text,
    ), text
    # The change feed's first page (the ICS, then the trust, then its first asset), and FHIR.
    assert "change: create organisation\nchange: create organisation\nchange: create asset" in text
    assert "FHIR searchset 1 Leeds Teaching Hospitals" in text
    organisations = (await client.get("/v1/organisations")).json()["items"]
    assert {o["name"] for o in organisations} == {"West Yorkshire ICS", "Leeds Teaching Hospitals"}
    trust = next(o for o in organisations if o["organisationType"] == "acute_trust")
    assert trust["odsCode"] == "RR8"
    assessments = (await client.get(f"/v1/organisations/{trust['id']}/assessments")).json()
    assert [a["label"] for a in assessments["items"]] == ["Baseline"]


def spreadsheet_session() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Spreadsheets in and out", 1)[1]
    return section.split("```sh", 1)[1].split("```", 1)[0]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_the_spreadsheet_session_of_the_readme_runs(
    server: str, client: httpx.AsyncClient, api_key: str, tmp_path: Path
) -> None:
    script = "\n".join((walk_through(), spreadsheet_session()))
    script = script.replace("http://127.0.0.1:8000", server)
    script = 'set -eu\ncurl() { command curl --fail-with-body "$@"; }\n' + script
    (tmp_path / ".lhs-admin-key").write_text(api_key + "\n", encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=90)
    text = output.decode()
    assert process.returncode == 0, text
    assert '{"dryRun":true,"rows":2,"created":2,"updated":0,"unchanged":0,"results":[' in text
    assert '{"dryRun":false,"rows":2,"created":0,"updated":0,"unchanged":2,"results":[' in text
    # The ICS's sheet naming its member by ODS code.
    assert '{"dryRun":false,"rows":1,"created":1,"updated":0,"unchanged":0,"results":[' in text
    # The ICS's organisations from their template: checked row by row, then imported.
    assert (
        '{"dryRun":true,"rows":3,"created":2,"updated":0,"unchanged":1,"results":['
        '{"row":2,"action":"create","id":null,"externalId":null},{"row":3,"action":"unchanged"'
    ) in text
    assert "RGD Leeds and York Partnership - mental_health_trust" in text
    template = (tmp_path / "organisations-template.csv").read_text(encoding="utf-8-sig")
    assert template.startswith("id,odsCode,name,organisationType,parentId,parentOdsCode,")
    workbook = openpyxl.load_workbook(tmp_path / "organisations-template.xlsx")
    assert workbook.sheetnames[:2] == ["organisations", "Notes"]
    template = (tmp_path / "activities-template.csv").read_text(encoding="utf-8-sig")
    assert template.startswith("id,externalId,organisationId,organisationOdsCode,area,")
    exported = (tmp_path / "ics-assets.csv").read_text(encoding="utf-8-sig")
    assert "Trust data warehouse" in exported
    assert "Shared care record and analytics platform" in exported, "the ICS's own, depth=all"
    # Each row names its organisation by ODS code and name beside its id.
    assert ",RR8,Leeds Teaching Hospitals,learning_communities,,Leeds journal club," in exported
    gaps = (tmp_path / "trust-gaps.csv").read_text(encoding="utf-8-sig")
    assert gaps.startswith("capabilityKey,title,area")
    trust = (await client.get("/v1/organisations?odsCode=RR8")).json()["items"][0]
    activities = (await client.get(f"/v1/organisations/{trust['id']}/activities")).json()
    assert [len(a["assetIds"]) for a in activities["items"]] == [2]
