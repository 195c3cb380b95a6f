"""Alembic owns the schema: upgrade builds it, it matches the models, and it is revertable.

Each test runs on a fresh database of its own (a new SQLite file; a new PostgreSQL database
on the test server), never on the shared one that the other tests are using.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Enum, MetaData, String, Table, inspect, make_url, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import app.models  # noqa: F401 - registers every table on the metadata
from app.db import metadata
from tests.conftest import alembic_config, migrate

APP_TABLES = set(metadata.tables)


def plain(name: str) -> Table:
    """A table as the models declare it, but its enum columns as plain strings: an older
    revision's rows hold values the current enums no longer list ('api-key')."""
    columns = [
        Column(c.name, String(32) if isinstance(c.type, Enum) else c.type)
        for c in metadata.tables[name].columns
    ]
    return Table(name, MetaData(), *columns)


BEFORE_EXPORTS = "3d9a6b1c2e47"  # the revision before exports were audited


@pytest.fixture
async def fresh_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A brand-new, empty database on the same backend as ``database_url``."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"lhs_migrations_{uuid.uuid4().hex[:12]}"
    server = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
        async with server.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await server.dispose()


@pytest.fixture
async def engine(fresh_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(fresh_url)
    yield engine
    await engine.dispose()


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
        return {row[0] for row in rows}


def _diff(connection: Connection) -> list[Any]:
    # The comparison settings of migrations/env.py (render settings do not change the diff).
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "render_as_batch": True}
    )
    return list(compare_metadata(context, metadata))


async def schema_diff(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return await connection.run_sync(_diff)


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config("unused")).get_current_head()
    assert revision is not None
    return revision


async def test_upgrade_head_creates_every_table(fresh_url: str, engine: AsyncEngine) -> None:
    assert await table_names(engine) == set()
    await migrate(fresh_url)
    assert await table_names(engine) == APP_TABLES | {"alembic_version"}
    assert await current_revisions(engine) == {head()}


async def test_models_and_migrations_agree(fresh_url: str, engine: AsyncEngine) -> None:
    await migrate(fresh_url)
    assert await schema_diff(engine) == []


async def test_alembic_check_finds_nothing_to_generate(fresh_url: str) -> None:
    """`alembic check` runs autogenerate through env.py itself: it raises on any difference."""
    await migrate(fresh_url)
    await asyncio.to_thread(command.check, alembic_config(fresh_url))


async def test_downgrade_base_removes_every_app_table(fresh_url: str, engine: AsyncEngine) -> None:
    await migrate(fresh_url)
    await migrate(fresh_url, "base", down=True)
    assert await table_names(engine) - {"alembic_version"} == set()
    assert await current_revisions(engine) == set()


async def test_upgrade_after_downgrade_rebuilds_the_same_schema(
    fresh_url: str, engine: AsyncEngine
) -> None:
    await migrate(fresh_url)
    await migrate(fresh_url, "base", down=True)
    await migrate(fresh_url)
    assert await table_names(engine) == APP_TABLES | {"alembic_version"}
    assert await current_revisions(engine) == {head()}
    assert await schema_diff(engine) == []


def _event(action: str, resource_type: str) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "occurred_at": datetime.now(UTC),
        "actor": "operator",
        "actor_kind": "operator",
        "action": action,
        "resource_type": resource_type,
        "resource_id": "x",
        "changes": [],
    }


async def test_downgrading_past_audited_exports_deletes_their_events_only(
    fresh_url: str, engine: AsyncEngine
) -> None:
    """The earlier schema cannot hold an export event: the downgrade deletes them first and
    keeps every other event; the CHECKs refuse an export again afterwards."""
    table = plain("audit_event")
    await migrate(fresh_url)
    async with engine.begin() as connection:
        await connection.execute(
            table.insert(), [_event("create", "asset"), _event("export", "map")]
        )
    await migrate(fresh_url, BEFORE_EXPORTS, down=True)
    async with engine.connect() as connection:
        # (The migration's own events, loading the shipped reference models, are kept too.)
        ours = select(table.c.action).where(table.c.resource_type != "reference-model")
        kept = (await connection.execute(ours)).scalars().all()
    assert kept == ["create"]
    for action, resource_type in (("export", "asset"), ("create", "map")):
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(table.insert(), [_event(action, resource_type)])
    await migrate(fresh_url)
    assert await schema_diff(engine) == []


BEFORE_SPELLINGS = "3d8b5f1e6a92"  # the revision before the contract 1.0.0 spellings


async def test_contract_spellings_migrate_stored_events_and_assessments_both_ways(
    fresh_url: str, engine: AsyncEngine
) -> None:
    """Audit events written as 'api-key' read 'api_key' after the upgrade, and a stored
    assessment's score is summary.overallScore; the downgrade writes the old spellings back."""
    # Plain: the organisation columns added since that revision (with defaults) are not sent.
    events, organisations = plain("audit_event"), plain("organisation")
    assessments = metadata.tables["assessment"]
    await migrate(fresh_url, BEFORE_SPELLINGS)
    now = datetime.now(UTC)
    organisation_id = uuid.uuid4()
    snapshots = {
        "organisation": {"scope": "organisation", "summary": {"score": 41.5, "missing": 2}},
        "system": {"scope": "system", "summary": {"members": 3, "averageScore": 12.5}},
    }
    async with engine.begin() as connection:
        await connection.execute(events.insert(), [_event("create", "api-key")])
        await connection.execute(
            metadata.tables["reference_model"].insert(),
            [
                {
                    "version": "m1",
                    "title": "Model",
                    "document": {},
                    "created_at": now,
                    "updated_at": now,
                    "row_version": 1,
                }
            ],
        )
        await connection.execute(
            organisations.insert(),
            [
                {
                    "id": organisation_id,
                    "name": "Trust",
                    "organisation_type": "trust",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            ],
        )
        await connection.execute(
            assessments.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "organisation_id": organisation_id,
                    "reference_model_version": "m1",
                    "scope": scope,
                    "overall_score": 1.0,
                    "result": result,
                    "created_at": now,
                }
                for scope, result in snapshots.items()
            ],
        )

    async def stored() -> tuple[list[str], dict[str, dict[str, Any]]]:
        async with engine.connect() as connection:
            types = (
                await connection.execute(
                    select(events.c.resource_type).where(events.c.resource_id == "x")
                )
            ).scalars()
            rows = await connection.execute(select(assessments.c.scope, assessments.c.result))
            return list(types), {scope: result["summary"] for scope, result in rows}

    await migrate(fresh_url)
    assert await stored() == (
        ["api_key"],
        {
            "organisation": {"overallScore": 41.5, "missing": 2},
            "system": {"members": 3, "overallScore": 12.5},
        },
    )
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(events.insert(), [_event("create", "api-key")])
    await migrate(fresh_url, BEFORE_SPELLINGS, down=True)
    assert await stored() == (["api-key"], {k: v["summary"] for k, v in snapshots.items()})
    await migrate(fresh_url)
    assert await schema_diff(engine) == []
