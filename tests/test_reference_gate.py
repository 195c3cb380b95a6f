"""Every path that writes a reference model, against every role and scope: one gate, one set
of rules (docs/security.md). PUT create, PUT replace and a map import carrying a model are
tried by a reader, an editor and an admin scoped to the whole service, to an ICS (A), to a
trust in it (A1) and to the other ICS (B), for a base model and for a variant; the command
line and start-up act as the operator. A refusal writes nothing; an acceptance stores the
model as the loader's (its scope's variant, or everyone's), with the server's timestamps,
and audits it.

Run on SQLite and PostgreSQL, over one world built once per module."""

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.cli import main as cli_main
from app.config import get_settings
from app.main import create_app
from app.reference.service import shipped_models
from tests.auth_helpers import make_key
from tests.conftest import Backend, empty_tables, migrate, settings_for, snapshot
from tests.helpers import create_organisation, one_organisation_map

ROLES = ("reader", "editor", "admin")
SCOPES = ("global", "ics", "trust", "other")  # the whole service, A, A1 in A, B
PATHS = ("put-create", "put-replace", "map-import")
KINDS = ("base", "variant")
BASE = "2026.1"
DEFAULT = "2026.2"  # the highest shipped version
FUTURE = "2099-01-01T00:00:00Z"
Json = dict[str, Any]


@dataclass
class World:
    backend: Backend
    http: httpx.AsyncClient
    orgs: dict[str, str] = field(default_factory=dict)  # scope -> its organisation's id
    keys: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # -> key, prefix

    async def call(self, scope: str, role: str, method: str, url: str, **kw: Any) -> Any:
        key, _ = self.keys[(scope, role)]
        headers = {"Authorization": f"Bearer {key}"} | kw.pop("headers", {})
        return await self.http.request(method, url, headers=headers, **kw)


@pytest.fixture(scope="module")
async def world(backend: Backend) -> AsyncIterator[World]:
    sessions = backend.app.state.sessions
    transport = httpx.ASGITransport(app=backend.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        built = World(backend, http)
        _, admin = await make_key(sessions, "admin", name="gate builder")
        http.headers["Authorization"] = f"Bearer {admin}"
        a = await create_organisation(http, name="Alpha ICS", organisationType="ics")
        a1 = await create_organisation(
            http, name="Alpha Trust", organisationType="acute_trust", parentId=a["id"]
        )
        b = await create_organisation(http, name="Beta ICS", organisationType="ics")
        del http.headers["Authorization"]
        built.orgs = {"ics": a["id"], "trust": a1["id"], "other": b["id"]}
        for scope, role in itertools.product(SCOPES, ROLES):
            row, key = await make_key(sessions, role, built.orgs.get(scope), name=f"{scope} {role}")
            built.keys[(scope, role)] = (key, row.prefix)
        yield built
    await empty_tables(backend.engine)


def model_body(version: str, kind: str) -> Json:
    """A valid model document: the shipped default, as a new base model or as a variant."""
    model = next(m for m in shipped_models() if m.version == BASE)
    body = model.model_dump(mode="json", by_alias=True)
    return body | {
        "version": version,
        "basedOn": None if kind == "base" else BASE,
        "title": f"Gate {kind}",
    }


def expected(path: str, kind: str, scope: str, role: str) -> int:
    """The rule, written once: what the table of cases asserts."""
    if path == "map-import":
        if role == "reader":
            return 403  # an import needs an editor at least
        if scope == "other":
            return 404  # the map hangs under A, which B's keys cannot see
    if role != "admin":
        return 403  # loading a model is an admin's
    if kind == "base" and scope != "global":
        return 403  # a base model may be everyone's default: the whole service's admins only
    if path == "put-replace":
        # The model to replace is A's variant (or a base model, whose admins are global).
        return {"global": 200, "ics": 200, "trust": 403, "other": 409}[scope]
    return 201


CASES = [
    pytest.param(path, kind, scope, role, id=f"{path}-{kind}-{scope}-{role}")
    for path, kind, scope, role in itertools.product(PATHS, KINDS, SCOPES, ROLES)
]


def fresh_version(kind: str) -> str:
    return f"gate-{kind[0]}-{uuid.uuid4().hex[:12]}"


def map_carrying(version: str, kind: str, parent: str) -> Json:
    """A one-organisation map hung under ``parent``, with an assessment pinned to a model the
    map carries, whose envelope claims a 2099 timestamp."""
    return one_organisation_map(parent, pinned=version, carried=[model_body(version, kind)])


async def stored(world: World, version: str) -> Any:
    async with world.backend.engine.connect() as connection:
        return (
            await connection.execute(
                text(
                    "SELECT organisation_id, created_at, updated_at, row_version "
                    "FROM reference_model WHERE version = :v"
                ),
                {"v": version},
            )
        ).first()


async def audited(world: World, version: str) -> list[tuple[str, str]]:
    async with world.backend.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT actor, action FROM audit_event WHERE resource_type = 'reference_model' "
                "AND resource_id = :v ORDER BY occurred_at"
            ),
            {"v": version},
        )
        return [(str(actor), str(action)) for actor, action in rows]


def aware(value: Any) -> datetime:
    """A stored timestamp as the driver gives it (SQLite: naive text) in UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@pytest.mark.parametrize(("path", "kind", "scope", "role"), CASES)
async def test_a_reference_model_write(
    world: World, path: str, kind: str, scope: str, role: str
) -> None:
    version = fresh_version(kind)
    body = model_body(version, kind)
    url = f"/v1/reference-models/{version}"
    if path == "put-replace":  # the model to replace: A's variant, or a global base model
        owner = ("global", "admin") if kind == "base" else ("ics", "admin")
        made = await world.call(*owner, "PUT", url, json=body)
        assert made.status_code == 201, made.text
    before = await snapshot(world.backend.engine)
    started = datetime.now(UTC) - timedelta(seconds=1)
    if path == "map-import":
        parent = world.orgs["trust" if scope == "trust" else "ics"]
        response = await world.call(
            scope, role, "POST", "/v1/maps/import", json=map_carrying(version, kind, parent)
        )
    elif path == "put-replace":
        changed = body | {"title": "Gate, replaced"}
        response = await world.call(
            scope, role, "PUT", url, json=changed, headers={"If-Match": 'W/"1"'}
        )
    else:
        response = await world.call(scope, role, "PUT", url, json=body)

    status = expected(path, kind, scope, role)
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert await snapshot(world.backend.engine) == before, "a refusal wrote something"
        return
    row = await stored(world, version)
    _, prefix = world.keys[(scope, role)]
    action = "update" if path == "put-replace" else "create"
    assert (prefix, action) in await audited(world, version)
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert started <= aware(row.updated_at) <= now  # the server's clock, never the caller's
    if path != "put-replace":
        assert started <= aware(row.created_at) <= now
        # The loader's: its scope's variant, or everyone's for a caller of the whole service.
        owner_id = world.orgs.get(scope)
        stored_owner = uuid.UUID(str(row.organisation_id)) if row.organisation_id else None
        assert stored_owner == (uuid.UUID(owner_id) if owner_id else None)
    else:
        assert row.row_version == 2
    # Whatever was loaded, the default is still the operator's choice.
    listed = (await world.call(scope, role, "GET", "/v1/reference-models")).json()["items"]
    assert [m["version"] for m in listed if m["isDefault"]] == [DEFAULT]


def test_the_matrix_holds_every_path_role_and_scope() -> None:
    assert len(CASES) == len(PATHS) * len(KINDS) * len(SCOPES) * len(ROLES) == 72
    every = set(itertools.product(PATHS, KINDS, SCOPES, ROLES))
    assert {c for c in every if expected(*c) < 400} == {
        *((p, "base", "global", "admin") for p in PATHS),
        *(("put-create", "variant", s, "admin") for s in SCOPES),  # B's own variant too
        *(("map-import", "variant", s, "admin") for s in ("global", "ics", "trust")),
        ("put-replace", "variant", "global", "admin"),
        ("put-replace", "variant", "ics", "admin"),
    }


# The operator's paths: the command line, and the shipped models at migration and start-up.


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


async def lhs_map_here(
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
) -> Ran:
    """The command line's entry point, in this process (a new process costs seconds here;
    tests/test_auth_cli.py runs the installed script itself)."""
    monkeypatch.setenv("LHS_DATABASE_URL", database_url)
    get_settings.cache_clear()
    capsys.readouterr()
    try:
        await asyncio.to_thread(cli_main, list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        get_settings.cache_clear()
    out, err = capsys.readouterr()
    return Ran(code, out, err)


async def test_the_command_line_loads_a_model_through_the_gate(
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = world.backend.url
    version = fresh_version("base")
    good = tmp_path / "model.json"
    good.write_text(json.dumps(model_body(version, "base")), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": "gate-bad", "garbage": True}), encoding="utf-8")
    before = await snapshot(world.backend.engine)
    refused = await lhs_map_here(url, capsys, monkeypatch, "load-reference-model", str(bad))
    assert refused.code == 1
    assert "not a valid reference model" in refused.stderr
    assert await snapshot(world.backend.engine) == before

    started = datetime.now(UTC) - timedelta(seconds=1)
    done = await lhs_map_here(url, capsys, monkeypatch, "load-reference-model", str(good))
    assert done.code == 0, done.stderr
    assert done.stdout.strip() == version
    row = await stored(world, version)
    assert row.organisation_id is None
    assert started <= aware(row.created_at) <= datetime.now(UTC) + timedelta(seconds=1)
    assert await audited(world, version) == [("operator", "create")]
    # Loaded, but not the default: only LHS_DEFAULT_REFERENCE_MODEL chooses that.
    listed = (await world.call("global", "reader", "GET", "/v1/reference-models")).json()
    assert [m["version"] for m in listed["items"] if m["isDefault"]] == [DEFAULT]
    before = await snapshot(world.backend.engine)
    again = await lhs_map_here(url, capsys, monkeypatch, "load-reference-model", str(good))
    assert again.code == 1
    assert "exists here already" in again.stderr
    assert await snapshot(world.backend.engine) == before


async def _forget_shipped(world: World, version: str) -> None:
    async with world.backend.engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM reference_model WHERE version = :v"), {"v": version}
        )
        await connection.execute(
            text("DELETE FROM audit_event WHERE resource_id = :v"), {"v": version}
        )


async def test_migration_and_start_up_load_the_shipped_models_through_the_gate(
    world: World,
) -> None:
    shipped = next(m for m in shipped_models() if m.version == "2024.1")
    for start in ("migration", "start-up"):
        await _forget_shipped(world, shipped.version)
        started = datetime.now(UTC) - timedelta(seconds=1)
        if start == "migration":
            await migrate(world.backend.url)  # at the head already: it installs what is missing
        else:
            app = create_app(settings_for(world.backend.url))
            async with app.router.lifespan_context(app):
                pass
        row = await stored(world, shipped.version)
        assert row is not None, start
        assert row.organisation_id is None
        assert started <= aware(row.created_at), start
        assert await audited(world, shipped.version) == [("operator", "create")], start
    fetched = await world.call("global", "reader", "GET", f"/v1/reference-models/{shipped.version}")
    assert fetched.json() == shipped.model_dump(mode="json", by_alias=True)
