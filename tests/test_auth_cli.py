"""The ``lhs-map`` command against a migrated database (SQLite and PostgreSQL): through its
entry point in this process (tests.helpers.run_cli), and as a user runs it, the installed
script in a process of its own, where the test is about the process (its key is the only thing
on its standard output, its exit status, a database it cannot use)."""

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from app.auth.authenticate import Authenticator
from app.config import Settings
from app.errors import Unauthenticated
from app.models import AuditEvent
from app.vocabulary import PrincipalKind, Role
from tests.conftest import Backend, migrate, snapshot
from tests.helpers import create_organisation, run_cli
from tests.test_auth_keys import sessions_of

pytestmark = pytest.mark.slow

LHS_MAP = shutil.which("lhs-map", path=str(Path(sys.executable).parent)) or "lhs-map"


async def lhs_map(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The command through its entry point, in this process."""
    return await run_cli(database_url, *args)


async def lhs_map_process(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed script, in a process of its own."""
    environment = os.environ | {"LHS_DATABASE_URL": database_url}
    return await asyncio.to_thread(
        subprocess.run,
        [LHS_MAP, *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def one_line(stream: str) -> str:
    lines = stream.strip().splitlines()
    assert len(lines) == 1, stream
    return lines[0]


async def test_the_first_admin_key_comes_from_the_command_line(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    done = await lhs_map_process(backend.url, "create-api-key", "--role", "admin")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert done.stdout == key + "\n"  # KEY=$(lhs-map create-api-key ...) gets just the key
    auth = Authenticator(Settings(database_url=backend.url))
    principal = await auth.authenticate(sessions_of(backend).reads, f"Bearer {key}")
    assert (principal.role, principal.organisation_id) == (Role.ADMIN, None)
    assert principal.kind is PrincipalKind.API_KEY
    assert principal.subject in done.stderr  # the note names the prefix, never the secret
    assert key not in done.stderr
    async with sessions_of(backend).read() as session:
        found = (await session.exec(select(AuditEvent))).all()
    (event,) = [e for e in found if e.resource_id == str(principal.key_id)]
    assert (event.actor, event.actor_kind, event.action) == ("operator", "operator", "create")


async def test_a_scoped_key_names_its_organisation_by_ods_code_and_can_expire(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    ics = await create_organisation(client, name="WY ICS", organisationType="ics", odsCode="QWO")
    done = await lhs_map(
        backend.url,
        "create-api-key",
        "--role",
        "editor",
        "--organisation",
        "qwo",
        "--name",
        "portal",
        "--expires-at",
        "2030-01-31T00:00:00Z",
    )
    assert done.returncode == 0, done.stderr
    auth = Authenticator(Settings(database_url=backend.url))
    principal = await auth.authenticate(sessions_of(backend).reads, f"Bearer {done.stdout.strip()}")
    assert principal.organisation_id == uuid.UUID(ics["id"])
    assert principal.role is Role.EDITOR


async def test_a_revoked_key_stops_working(backend: Backend, client: httpx.AsyncClient) -> None:
    key = (await lhs_map(backend.url, "create-api-key", "--role", "reader")).stdout.strip()
    prefix = key[: len("lhs_0123456789ab")]
    done = await lhs_map(backend.url, "revoke-api-key", prefix)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert f"Revoked {prefix}." in done.stderr
    with pytest.raises(Unauthenticated, match="revoked"):
        await Authenticator(Settings(database_url=backend.url)).authenticate(
            sessions_of(backend).reads, f"Bearer {key}"
        )


async def test_revoking_again_says_so_and_changes_nothing(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    key = (await lhs_map(backend.url, "create-api-key", "--role", "reader")).stdout.strip()
    prefix = key[: len("lhs_0123456789ab")]
    assert (await lhs_map(backend.url, "revoke-api-key", prefix)).returncode == 0
    before = await snapshot(backend.engine)

    again = await lhs_map(backend.url, "revoke-api-key", prefix)

    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert "already revoked" in one_line(again.stderr)
    assert await snapshot(backend.engine) == before


async def test_only_the_operator_makes_a_key_that_never_expires(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    key = (await lhs_map(backend.url, "create-api-key", "--role", "admin")).stdout.strip()
    prefix = key[: len("lhs_0123456789ab")]
    listed = (await client.get("/v1/api-keys")).json()["items"]
    (made,) = [k for k in listed if k["prefix"] == prefix]
    assert made["expiresAt"] is None
    through_the_api = await client.post("/v1/api-keys", json={"name": "n", "role": "reader"})
    assert through_the_api.json()["expiresAt"] is not None


def assert_one_line_error(
    done: subprocess.CompletedProcess[str], status: int, message: str
) -> None:
    assert done.returncode == status
    assert done.stdout == ""
    assert message in one_line(done.stderr)
    assert one_line(done.stderr).startswith("lhs-map: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create-api-key", "--role", "owner"], "Invalid value for '--role'"),
        (["create-api-key"], "Missing option '--role'"),
        (["make-coffee"], "No such command"),
    ],
)
async def test_usage_errors_are_one_line_on_standard_error(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = await lhs_map(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", *args)
    assert_one_line_error(done, 2, message)


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["create-api-key", "--role", "admin", "--organisation", "NOPE1"], 1, "NOPE1"),
        (["create-api-key", "--role", "admin", "--expires-at", "2031-01-01"], 1, "--expires-at"),
        (["create-api-key", "--role", "admin", "--expires-at", "2001-01-01T00:00Z"], 1, "past"),
        (["revoke-api-key", "lhs_000000000000"], 1, "No API key"),
    ],
)
async def test_errors_are_one_line_on_standard_error(
    backend: Backend, client: httpx.AsyncClient, args: list[str], status: int, message: str
) -> None:
    assert_one_line_error(await lhs_map(backend.url, *args), status, message)


async def test_an_unmigrated_database_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    done = await lhs_map_process(url, "create-api-key", "--role", "admin")
    assert done.returncode == 1
    assert "lhs-map migrate" in one_line(done.stderr)
    assert str(tmp_path / "empty.db") in one_line(done.stderr)
    await migrate(url)
    done = await lhs_map(url, "create-api-key", "--role", "admin")
    assert done.returncode == 0, done.stderr
