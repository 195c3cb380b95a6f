"""Engine, column types and the per-request session.

The stack is async end to end (aiosqlite / asyncpg): a sync session would cost a threadpool
hop per dependency and, under load, park every worker thread on the connection pool.
"""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.config import Settings

# Explicit constraint names, so migrations can drop and alter them on every backend.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite stores naive text; this restores the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(settings: Settings) -> AsyncEngine:
    kwargs: dict[str, Any] = {"echo": settings.db_echo, "pool_pre_ping": False}
    if settings.is_sqlite:
        engine = create_async_engine(settings.database_url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=1800,
        **kwargs,
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; busy_timeout makes writers queue instead
    # of failing; foreign keys are off by default in SQLite and the cascades depend on them.
    # isolation_level None: the driver emits no BEGIN of its own; _sqlite_begin does.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A write request takes SQLite's write lock when its transaction begins: a deferred
    # transaction that reads and then writes fails at once (SQLITE_BUSY) when another writer
    # committed in between, while an immediate one queues on busy_timeout. Reads stay deferred.
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WRITE_OPTION = "lhs_write"


@dataclass(frozen=True)
class Sessions:
    """Sessions for reading requests, and for writing ones (each transaction of a writing
    session takes SQLite's write lock at BEGIN; on PostgreSQL the two are the same)."""

    read: async_sessionmaker[AsyncSession]
    write: async_sessionmaker[AsyncSession]


def make_sessions(engine: AsyncEngine) -> Sessions:
    writer = engine.execution_options(**{WRITE_OPTION: True})
    return Sessions(
        read=async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False),
        write=async_sessionmaker(writer, class_=AsyncSession, expire_on_commit=False),
    )


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions: Sessions = request.app.state.sessions
    safe = request.method in ("GET", "HEAD", "OPTIONS")
    async with (sessions.read if safe else sessions.write)() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

# Set by a caller that must commit the use case's writes together with its own (the
# Idempotency-Key record): the use case's commit() then only flushes.
DEFER_COMMIT = "lhs_defer_commit"


async def commit(session: AsyncSession) -> None:
    """End a write use case: commit, unless the caller asked to commit it together with more."""
    if session.info.get(DEFER_COMMIT):
        await session.flush()
    else:
        await session.commit()


async def fetch_rows(session: AsyncSession, statement: Executable) -> Sequence[Any]:
    """Run a Core select of plain columns (wider than SQLModel's typed select allows); rows
    unpack like tuples."""
    connection = await session.connection()
    return (await connection.execute(statement)).all()
