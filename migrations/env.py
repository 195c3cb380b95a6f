"""Alembic environment: async engine from app settings, batch mode for SQLite's ALTERs."""

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.sqltypes import AutoString

import app.models  # noqa: F401 - registers every table on the metadata
from app.config import get_settings
from app.db import UTCDateTime, metadata
from app.reference.gate import install_shipped

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    return str(config.attributes.get("database_url") or get_settings().database_url)


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render our column types as plain SQLAlchemy ones: migrations must not import the app."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _configure(connection: Connection | None = None) -> None:
    context.configure(
        connection=connection,
        url=None if connection is not None else _url(),
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        literal_binds=connection is None,
        render_item=_render_item,
    )


def run_offline() -> None:
    _configure()
    with context.begin_transaction():
        context.run_migrations()


# Instances that start together all run "alembic upgrade head": on PostgreSQL they take turns
# (the later ones then find nothing to do). Any fixed number names the lock.
MIGRATION_LOCK = 7_345_002


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def _at_head(connection: Connection) -> bool:
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current == set(ScriptDirectory.from_config(config).get_heads())


async def _install_reference_models(connection: AsyncConnection) -> None:
    """Load the reference models that ship with this build, once, through the same gate as
    every other model (as the operator, audited). Done when migrating to the head (and at
    start-up), never by the readiness probe, which must only read."""
    at_head = await connection.run_sync(_at_head)
    await connection.commit()  # so that the session below begins (and commits) its own
    if not at_head:
        return  # migrated down: the tables are not those this build's code writes
    async with AsyncSession(bind=connection, expire_on_commit=False) as session:
        await install_shipped(session)


async def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # tests hand over a connection of their own
        _run_sync(connection)
        return
    engine = create_async_engine(_url())
    async with engine.connect() as async_connection:
        postgres = async_connection.dialect.name == "postgresql"
        if postgres:  # a session-level lock: it outlives the commits of what follows
            await async_connection.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            await async_connection.commit()
        try:
            await async_connection.run_sync(_run_sync)
            await _install_reference_models(async_connection)
        finally:
            if postgres:
                await async_connection.execute(text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
                await async_connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
