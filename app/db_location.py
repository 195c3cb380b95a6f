"""The database as people are told of it: where it is (its URL without the password, or its
file) and what to do when it is missing or behind this version (``lhs-map migrate``). The
server's start and every command of ``lhs-map`` say it in the same words."""

import logging
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings

logger = logging.getLogger("app.db")

FIX = "run 'lhs-map migrate' (alembic upgrade head)"


class NotReady(Exception):
    """The database is missing or not at this version's migration head; the message says which
    database and the command that fixes it."""


def shown(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


def sqlite_file(database_url: str) -> Path | None:
    """The file an SQLite database lives in (None for other databases or memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database.removeprefix("file:").split("?", 1)[0])


def require_file(settings: Settings) -> None:
    """Said before connecting: SQLite would otherwise create an empty file and go on."""
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        raise NotReady(
            f"the database {path} does not exist (LHS_HOME is {settings.home}): {FIX} to "
            "create it, or set LHS_HOME or LHS_DATABASE_URL to where it is"
        )


async def require_migrated(
    connection: AsyncConnection, settings: Settings, expected: set[str]
) -> None:
    try:
        rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
        current = {row[0] for row in rows}
    except SQLAlchemyError:
        current = set()
        await connection.rollback()
    if current != expected:
        raise NotReady(
            f"the database {shown(settings.database_url)} is at "
            f"{sorted(current) or 'no revision'}, this version needs {sorted(expected)}: {FIX}"
        )


async def say_if_not_ready(engine: AsyncEngine, settings: Settings, expected: set[str]) -> None:
    """At the server's start: a missing or unmigrated database is logged, named, with the fix.
    The service starts all the same (its /_status answers 503 until it is fixed), as it does
    when the database is unreachable: an orchestrator may migrate or start it after."""
    try:
        require_file(settings)
        async with engine.connect() as connection:
            await require_migrated(connection, settings, expected)
    except NotReady as exc:
        logger.error("%s; until then /_status answers 503", exc)
    except (SQLAlchemyError, OSError):
        pass  # unreachable: /_status says so, without the driver's message (addresses)
