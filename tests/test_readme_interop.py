"""The README's demo, FHIR, ODS and benchmark sections run as written against a real server
(the port and the path of the installed lhs-map aside)."""

import asyncio
import json
import os
import re
from pathlib import Path

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.organization import Organization

from app.config import PROJECT_ROOT
from tests.conftest import Backend, ServerUrl
from tests.link_helpers import open_link
from tests.test_auth_cli import LHS_MAP


def block(heading: str) -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split(heading, 1)[1].split("```sh", 1)[1].split("```", 1)[0]


@pytest.fixture
def server(shared_server: ServerUrl) -> ServerUrl:
    """A real server, none of this module's own (no settings, no measure of its process): the
    one the worker shares (tests/conftest.py)."""
    return shared_server


async def test_the_demo_fhir_and_ods_sections_run_as_written(
    server: str, backend: Backend, client: httpx.AsyncClient, api_key: str, tmp_path: Path
) -> None:
    if backend.name != "sqlite":
        pytest.skip("a reader's first run is on SQLite; the commands are tested on both")
    sections = (
        "## Demo data",
        "## FHIR",
        "## ODS import",
        "## Benchmarks",
        "## Crosswalks and imported returns",
        "## A self-assessment",
    )
    script = "\n".join(block(heading) for heading in sections)
    assert ".venv/bin/lhs-map" in script
    fixture = "tests/fixtures/ods-ord-records.json"
    assert fixture in script
    script = (
        script.replace("http://127.0.0.1:8000", server)
        .replace(".venv/bin/lhs-map", LHS_MAP)
        .replace(fixture, str(PROJECT_ROOT / fixture))
    )
    # As from the project directory after `make run`: the local admin key in its file.
    (tmp_path / ".lhs-admin-key").write_text(api_key + "\n", encoding="utf-8")
    # Stop at the first HTTP error, as a reader would.
    script = 'curl() { command curl --fail-with-body "$@"; }\n' + script
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        "set -eu\n" + script,
        cwd=tmp_path,
        env=os.environ | {"LHS_DATABASE_URL": backend.url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    output = out.decode()
    assert process.returncode == 0, output + err.decode()
    lines = output.splitlines()
    assert lines[0].startswith("6 members, overall score (their mean) ")
    assert lines[1].startswith(f"Open {server}/v1/organisations/")
    async with httpx.AsyncClient() as browser:  # as a browser opens it: no credentials
        plain, cookie = await open_link(browser, lines[1].removeprefix("Open "))
        report = await browser.get(plain, headers=cookie)
    assert report.status_code == 200
    assert "Demo Valley ICS" in report.text
    assert lines[2] == "4.0.1 ['Organization']"
    found = json.loads(lines[3])
    Bundle.model_validate(found)
    assert (found["type"], found["total"]) == ("searchset", 1)
    read = json.loads(lines[4])
    assert found["entry"][0]["resource"] == read
    trust = Organization.model_validate(read)
    assert trust.name == "Demo Valley Hospitals NHS Foundation Trust"
    # The ODS import: a dry run record by record, then the import itself.
    dry_run = lines.index(
        "Dry run, nothing written; would be: 8 created, 0 updated, 0 unchanged, "
        "1 inactive skipped, 2 with no known parent"
    )
    assert lines[5] == "create\tY99901\tExample Road Surgery"
    assert dry_run == 5 + 9  # eight to create, one inactive to skip
    assert lines[dry_run + 1] == (
        "8 created, 0 updated, 0 unchanged, 1 inactive skipped, 2 with no known parent"
    )
    # The demo's acute trust among the five of the neighbouring systems; its mental health
    # trust has none to compare with.
    acute, mental = lines[dry_run + 2 : dry_run + 4]
    assert acute.startswith("acute_trust own ")
    assert acute.endswith(" n 5 withheld None")
    assert "median None" not in acute
    assert mental.endswith("median None n None withheld too_few_organisations")
    # The crosswalk to WGLL, the trust by its pillars, its DMA return's sheet, check and import.
    crosswalk = lines[dry_run + 4 : dry_run + 7]
    assert crosswalk[0] == "digital-infrastructure -> smart-foundations equal"
    pillars = lines[dry_run + 7 : dry_run + 14]
    assert [p.rsplit(" ", 1)[0] for p in pillars][:2] == ["Well led", "Ensure smart foundations"]
    rows = (tmp_path / "trust-by-wgll.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].startswith("framework,heading,title,score,")
    assert len(rows) == 8
    template = (tmp_path / "dma-template.csv").read_text(encoding="utf-8-sig")
    assert template.startswith("year,pillar,domain,score,validated")
    assert '{"dryRun":true,"rows":2,"created":2,' in lines[dry_run + 14]
    assert '{"dryRun":false,"rows":2,"created":2,' in lines[dry_run + 14]
    questionnaire = next(i for i, line in enumerate(lines) if " questions; " in line)
    credited = "\n".join(lines[dry_run + 14 : questionnaire])
    assert " dma 2026 credited " in credited
    assert "'return': " in lines[questionnaire - 1]
    # A self-assessment of the acute trust: the questionnaire (levels 0 to 4 in words), the
    # submit, two moderations by an ICS editor, the provenance, the CSV.
    assert [line.split(" ", 3)[2] for line in lines[questionnaire + 1 : questionnaire + 6]] == [
        "0",
        "1",
        "2",
        "3",
        "4",
    ]
    after = lines[questionnaire + 6 :]
    assert after[0].startswith("submitted - assessment ")
    assert after[1:3] == ["200", "200"]
    points, moderated = re.fullmatch(
        r"questionnaire ([\d.]+) points; moderated ([\d.]+)", after[3]
    ).groups()  # type: ignore[union-attr]
    assert 0 < float(moderated) <= float(points)
    assert after[4].startswith("capabilityKey,area,title,level,notApplicable,")
