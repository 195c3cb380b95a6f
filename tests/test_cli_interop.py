"""``lhs-map import-ods`` and ``lhs-map load-demo`` run as a user runs them: subprocesses
against a migrated database (SQLite and PostgreSQL)."""

import json
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from app.models import AuditEvent
from tests.conftest import Backend, snapshot
from tests.test_auth_cli import lhs_map, one_line
from tests.test_auth_keys import sessions_of
from tests.test_ods_import import FIXTURE, by_code

pytestmark = pytest.mark.slow


async def test_import_ods_imports_then_changes_nothing(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    done = await lhs_map(backend.url, "import-ods", str(FIXTURE))
    assert done.returncode == 0, done.stderr
    assert one_line(done.stdout) == (
        "8 created, 0 updated, 0 unchanged, 1 inactive skipped, 2 with no known parent"
    )
    assert "FZZ99: no parent linked; none of FZZ00 is here." in done.stderr
    pcn = await by_code(client, "U99901")
    assert pcn["parentId"] == (await by_code(client, "Q9Z"))["id"]
    async with sessions_of(backend).read() as session:
        events = (
            await session.exec(select(AuditEvent).where(AuditEvent.resource_type == "organisation"))
        ).all()
    # Audited as the operator: eight creations, and a parent linked for five of them.
    assert {(e.actor, e.actor_kind, e.action) for e in events} == {
        ("operator", "operator", "create"),
        ("operator", "operator", "update"),
    }
    assert sum(e.action == "create" for e in events) == 8
    assert sum(e.action == "update" for e in events) == 5

    before = await snapshot(backend.engine)
    again = await lhs_map(backend.url, "import-ods", str(FIXTURE))
    assert again.returncode == 0, again.stderr
    assert one_line(again.stdout).startswith("0 created, 0 updated, 8 unchanged")
    assert await snapshot(backend.engine) == before


async def test_import_ods_refuses_a_bad_file_in_one_line(
    backend: Backend, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    before = await snapshot(backend.engine)
    not_json = tmp_path / "ord.json"
    not_json.write_text("{not json", encoding="utf-8")
    done = await lhs_map(backend.url, "import-ods", str(not_json))
    assert done.returncode == 1
    assert done.stdout == ""
    assert one_line(done.stderr).startswith(f"lhs-map: {not_json} is not JSON: ")

    no_org_id = tmp_path / "one.json"
    record = {"Name": "X", "Status": "Active", "Roles": {"Role": [{"id": "RO76"}]}}
    no_org_id.write_text(json.dumps([{"Organisation": record}]), encoding="utf-8")
    done = await lhs_map(backend.url, "import-ods", str(no_org_id))
    assert done.returncode == 1
    # Counted as a person counts: the first record is record 1.
    assert "record 1 Organisation.OrgId: Field required" in one_line(done.stderr)

    missing = await lhs_map(backend.url, "import-ods", str(tmp_path / "absent.json"))
    assert missing.returncode == 2
    assert "does not exist" in one_line(missing.stderr)
    assert await snapshot(backend.engine) == before


async def test_import_ods_dry_run_lists_what_it_would_do_and_writes_nothing(
    backend: Backend, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    before = await snapshot(backend.engine)
    done = await lhs_map(backend.url, "import-ods", "--dry-run", str(FIXTURE))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == (
        "Dry run, nothing written; would be: 8 created, 0 updated, 0 unchanged, "
        "1 inactive skipped, 2 with no known parent"
    )
    rows = [line.split("\t") for line in lines[:-1]]
    assert ["create", "Q9Z", "NHS Fictionshire Integrated Care Board"] in rows
    assert ["skip inactive", "Y99903"] in rows
    assert sum(row[0] == "create" for row in rows) == 8
    assert await snapshot(backend.engine) == before  # audit events included

    # Once imported, a dry run of a changed file names the update, and still writes nothing.
    assert (await lhs_map(backend.url, "import-ods", str(FIXTURE))).returncode == 0
    changed = json.loads(FIXTURE.read_text(encoding="utf-8"))
    changed[-1]["Organisation"]["Name"] = "NHS FICTIONSHIRE AND DISTRICT ICB"
    changed_file = tmp_path / "changed.json"
    changed_file.write_text(json.dumps(changed), encoding="utf-8")
    imported = await snapshot(backend.engine)
    again = await lhs_map(backend.url, "import-ods", "--dry-run", str(changed_file))
    assert again.returncode == 0, again.stderr
    assert "update\tQ9Z\tNHS Fictionshire and District ICB" in again.stdout.splitlines()
    assert "would be: 0 created, 1 updated, 7 unchanged" in again.stdout
    assert await snapshot(backend.engine) == imported


async def test_cli_imports_refuse_deep_and_oversized_files_in_one_line(
    backend: Backend, client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ODS file and a map file are bounded like a request: nested past 64 levels, or larger
    than LHS_MAX_IMPORT_BYTES, they are refused before they are parsed."""
    before = await snapshot(backend.engine)
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"[" * 5_000 + b"]" * 5_000)
    for command in ("import-ods", "import"):
        done = await lhs_map(backend.url, command, str(deep))
        assert done.returncode == 1, done.stderr
        assert "deeper than 64 levels" in one_line(done.stderr)
    monkeypatch.setenv("LHS_MAX_IMPORT_BYTES", "1024")
    assert FIXTURE.stat().st_size > 1024
    for command in ("import-ods", "import"):
        done = await lhs_map(backend.url, command, str(FIXTURE))
        assert done.returncode == 1, done.stderr
        assert f"{FIXTURE} is over 1024 bytes" in one_line(done.stderr)
    assert await snapshot(backend.engine) == before


async def test_load_demo_prints_the_ics_and_loads_once(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    done = await lhs_map(backend.url, "load-demo")
    assert done.returncode == 0, done.stderr
    ics_id = one_line(done.stdout)
    assert "Loaded Demo Valley ICS" in done.stderr
    ics = (await client.get(f"/v1/organisations/{ics_id}")).json()
    assert ics["name"] == "Demo Valley ICS"
    report = await client.get(f"/v1/organisations/{ics_id}/report")
    assert report.status_code == 200

    before = await snapshot(backend.engine)
    again = await lhs_map(backend.url, "load-demo")
    assert again.returncode == 0, again.stderr
    assert one_line(again.stdout) == ics_id
    assert "loaded already" in again.stderr
    assert await snapshot(backend.engine) == before


async def test_help_says_what_each_command_does(backend: Backend) -> None:
    listing = await lhs_map(backend.url, "--help")
    assert "import-ods" in listing.stdout
    assert "load-demo" in listing.stdout
    ods = await lhs_map(backend.url, "import-ods", "--help")
    assert ods.returncode == 0
    for words in ("Organisation Reference Data", "ODS code", "All or", "FILE"):
        assert words in ods.stdout
    demo = await lhs_map(backend.url, "load-demo", "--help")
    assert demo.returncode == 0
    assert "fictional ICS" in demo.stdout
