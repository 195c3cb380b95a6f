"""Engine, column types and the per-request session.

The stack is async end to end (aiosqlite / asyncpg): a sync session would cost a threadpool
hop per dependency and, under load, park every worker thread on the connection pool.
"""

import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Any

import anyio
import asyncpg
from fastapi import Depends, Request
from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Enum,
    MetaData,
    Select,
    String,
    Table,
    Uuid,
    event,
    func,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import URL, Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType, TypeDecorator, TypeEngine
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
        # In WAL mode readers wait for a lock only in rare cases (recovering the log).
        return _sqlite_engine(settings.database_url, busy_seconds=30.0, **kwargs)
    return _postgres_engine(settings.database_url, settings, **kwargs)


def _postgres_engine(url: str, settings: Settings, **kwargs: Any) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=1800,
        **kwargs,
    )


def _sqlite_engine(url: str | URL, *, busy_seconds: float, **kwargs: Any) -> AsyncEngine:
    # The driver's timeout is SQLite's busy_timeout: how long a statement waits for a lock
    # another connection holds before failing with "database is locked".
    engine = create_async_engine(url, connect_args={"timeout": busy_seconds}, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_writer(engine: AsyncEngine, settings: Settings) -> AsyncEngine:
    """The one connection a process writes to SQLite through.

    SQLite has one writer at a time. Left to the file lock, concurrent writers of one process
    each poll it in SQLite's busy handler, sleeping up to 100 ms between tries while the lock
    sits free: 10 creates at once took 0.1 to 1.5 s each, and the overload bound refused the
    rest. A pool of one connection makes them queue in turn instead (first come, first
    served, woken the moment the writer is free), for at most sqlite_write_timeout_seconds,
    after which the pool's timeout answers a 503 with Retry-After. Writers in other processes
    (more workers, the CLI) share no queue with this one: they wait on the file lock, for as
    long again, through the same busy_timeout."""
    wait = settings.sqlite_write_timeout_seconds
    return _sqlite_engine(
        engine.url,
        busy_seconds=wait,
        echo=settings.db_echo,
        pool_size=1,
        max_overflow=0,
        pool_timeout=wait,
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; foreign keys are off by default in
    # SQLite and the cascades depend on them.
    # isolation_level None: the driver emits no BEGIN of its own; _sqlite_begin does.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
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
    session takes SQLite's write lock at BEGIN; on PostgreSQL a reading session runs each
    statement on its own, outside an explicit transaction)."""

    read: async_sessionmaker[AsyncSession]
    write: async_sessionmaker[AsyncSession]
    # Reading sessions on the read replica (LHS_DATABASE_REPLICA_URL), if there is one: only
    # for the routes that ask for it (app.http.replica decides, per request, whether to).
    replica: async_sessionmaker[AsyncSession] | None = None
    # Names this database connection for what a process remembers of it (an analysis).
    identity: str = field(default_factory=lambda: uuid.uuid4().hex)
    # The operator's choice of default reference model (None: the highest shipped version),
    # also in each session's info under DEFAULT_MODEL, for services handed only a session.
    default_reference_model: str | None = None
    # What make_sessions opened beside the caller's engine (SQLite's writer), closed by
    # dispose; the caller disposes of its own engine.
    opened: tuple[AsyncEngine, ...] = ()

    @cached_property
    def reads(self) -> "ReadContext":
        """Reads outside any transaction, each statement its own (see ReadContext)."""
        return ReadContext(self)

    @cached_property
    def replica_reads(self) -> "ReadContext":
        """The same reads on the replica (``reads`` when there is none); writes beside them
        (an export's audit event) still go to the primary."""
        return ReadContext(self, source=self.replica) if self.replica else self.reads

    async def dispose(self) -> None:
        for engine in self.opened:
            await engine.dispose()


DEFAULT_MODEL = "lhs_default_reference_model"


def make_sessions(engine: AsyncEngine, settings: Settings) -> Sessions:
    """Sessions on ``engine``; on SQLite the writing ones go through a connection of their
    own (see _sqlite_writer), closed by Sessions.dispose."""
    opened = (_sqlite_writer(engine, settings),) if engine.dialect.name == "sqlite" else ()
    writer = (opened[0] if opened else engine).execution_options(**{WRITE_OPTION: True})
    reader = engine
    if engine.dialect.name == "postgresql":
        # Under READ COMMITTED every statement sees a snapshot of its own anyway, so a BEGIN
        # and a COMMIT around a read request's statements only cost two round trips (15% of
        # a GET's time in the profile). Reads that must agree use ReadContext.snapshot, which asks
        # for a REPEATABLE READ transaction explicitly.
        reader = engine.execution_options(isolation_level="AUTOCOMMIT")
    default_reference_model = settings.default_reference_model
    info: dict[str, Any] = {DEFAULT_MODEL: default_reference_model}
    replica = None
    if settings.database_replica_url is not None:
        # A standby: AUTOCOMMIT as the primary's reader (a standby takes no writes anyway).
        standby = _postgres_engine(settings.database_replica_url, settings, echo=settings.db_echo)
        opened = (*opened, standby)
        replica = async_sessionmaker(
            standby.execution_options(isolation_level="AUTOCOMMIT"),
            class_=AsyncSession,
            expire_on_commit=False,
            info=info,
        )
    sessions = Sessions(
        read=async_sessionmaker(reader, class_=AsyncSession, expire_on_commit=False, info=info),
        write=async_sessionmaker(writer, class_=AsyncSession, expire_on_commit=False, info=info),
        replica=replica,
        default_reference_model=default_reference_model,
        opened=opened,
    )
    # Every session copies this dict into its own info: a unit of work knows its sessions.
    info[SESSIONS] = sessions
    return sessions


SESSIONS = "lhs_sessions"


def sessions_of(session: "UnitOfWork") -> Sessions:
    """The sessions a unit of work (or any session of ours) was made by: for a service that
    reads beside its unit of work (``sessions_of(session).reads``) or opens a
    side_transaction."""
    sessions: Sessions = session.info[SESSIONS]
    return sessions


async def read_only_reason(connection: AsyncConnection) -> str | None:
    """Why a write would fail on this database though reads work, or None. Writes nothing.

    Call it first on a fresh connection. SQLite: a write attempted and rolled back at once
    (setting the header's user_version to its own value), since only a write tells: a file
    opened read-only, or unwritable, reads fine and even takes the write lock. It never
    waits for the lock: taken, it means another connection is writing, so the file is
    writable. PostgreSQL: a standby in recovery, or default_transaction_read_only."""
    if connection.dialect.name == "sqlite":
        reason: str | None = await connection.run_sync(_sqlite_read_only_reason)
        return reason
    recovery, read_only = (
        await connection.execute(
            text("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
        )
    ).one()
    if recovery:
        return "read-only: the server is a standby in recovery"
    if read_only == "on":
        return "read-only: transactions are read-only by default (default_transaction_read_only)"
    return None


def _sqlite_read_only_reason(connection: Connection) -> str | None:
    dbapi: Any = connection.connection.dbapi_connection
    cursor = dbapi.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout")
        busy = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA user_version")
        version = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA busy_timeout=0")
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                cursor.execute(f"PRAGMA user_version={version}")
            finally:
                cursor.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            name = getattr(exc, "sqlite_errorname", "")
            if name.startswith("SQLITE_BUSY"):
                return None
            if name.startswith("SQLITE_READONLY"):
                return "read-only: the database file cannot be written"
            # SQLite's own fixed messages (disk I/O error, database or disk is full).
            return f"cannot be written: {exc}"
        finally:
            cursor.execute(f"PRAGMA busy_timeout={busy}")
    finally:
        cursor.close()
    return None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Callbacks to run after a failed unit of work has rolled back (e.g. releasing an
# Idempotency-Key claimed in a transaction of its own).
ON_ROLLBACK = "lhs_on_rollback"


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction boundary: services only flush; this commits once the
    route has returned, or rolls back if anything failed.

    Used with ``Depends(scope="function")``, so the commit happens after the response is built
    but before it is sent: a failed commit is the caller's error response, never a 201 followed
    by a rollback."""
    sessions: Sessions = request.app.state.sessions
    maker = sessions.read if request.method in SAFE_METHODS else sessions.write
    async with maker() as session:
        try:
            yield session
            # A session the route never used has nothing to commit (committing would begin a
            # transaction only to end it: measurable on a hot read).
            if session.in_transaction():
                await session.commit()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await session.rollback()
                for callback in session.info.pop(ON_ROLLBACK, []):
                    await callback()
            raise


def on_rollback(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    session.info.setdefault(ON_ROLLBACK, []).append(callback)


# The request's unit of work: the one transaction a request that writes runs in (a reading
# request's session runs its statements outside any, on PostgreSQL). A service that writes
# receives it; one that only reads receives a ReadContext. Never both, never a union.
UnitOfWork = AsyncSession
SessionDep = Annotated[UnitOfWork, Depends(unit_of_work, scope="function")]


@asynccontextmanager
async def side_transaction(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """A write transaction of its own, beside the request's unit of work (or with no request
    at all), committed when the block ends and rolled back if it raises. The one way to open
    one; each user needs it because its write must outlive, or precede, what it stands beside:

    - the audit of an export (audit.exported): an export is a GET, whose session is a reading
      one, and the event must be on record before the first row goes out, even if the
      download dies midway;
    - the Idempotency-Key claim and its release (app.http.idempotency): the claim must be
      visible to a concurrent retry before the create commits, and the release must happen
      after the create's unit of work rolled back;
    - the imports with no request: the map import and the ODS import from the command line
      (all or nothing, in one transaction), and the demo loader;
    - housekeeping chores (expired keys, revisions of deleted organisations), run by start-up
      in the background.

    On SQLite it takes the write lock at BEGIN, as every writing session does."""
    async with sessions.write() as session, session.begin():
        yield session


# What the driver raises when the server or the network ended the connection, or when it
# finds the connection in a state it cannot use (a termination noticed mid-request).
_LOST = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
)

# Rows read by column name: SQLAlchemy's RowMappings, or asyncpg's Records.
Row = Mapping[Any, Any]
Rows = Sequence[Row]

# The dialect a prebuilt statement is checked against when it is built: the one whose
# processing the driver shortcut skips.
_ASYNCPG = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]

# Types whose processing on PostgreSQL is an identity on what asyncpg gives back, allowed in a
# prebuilt statement though they declare processing. Each entry says why; a type not listed
# here that processes values is refused when the statement is built.
PASS_THROUGH: Mapping[type[TypeEngine[Any]], str] = {
    UTCDateTime: (
        "asyncpg returns timestamptz as aware UTC datetimes, which process_result_value "
        "returns unchanged; as a parameter it is processed on the shortcut too (a naive "
        "time is refused on both databases)"
    ),
}


class UnsafeStatement(TypeError):
    """A prebuilt statement selects a column, or takes a parameter, whose type needs
    processing on PostgreSQL: the driver shortcut would skip it and answer differently."""


@dataclass(eq=False)
class Prebuilt:
    """A Core select built once, with named bind parameters, checked when built (see
    ``prebuilt``), and run by ``fetch``."""

    name: str
    statement: Select[*tuple[Any, ...]]
    # Parameters the shortcut must still process (a PASS_THROUGH type's bind processing).
    processed: Mapping[str, Callable[[Any], Any]]
    # Parameters expanded into a list at execution (``in_`` of a list): only SQLAlchemy's
    # execution does that, so such a statement never takes the shortcut.
    expanding: bool
    # The PostgreSQL text, the order of its parameters and the values of those the statement
    # fixed itself (a literal such as coalesce(x, 0)), compiled on first use.
    driver_sql: tuple[str, tuple[str, ...], dict[str, Any]] | None = None


# Every prebuilt statement by name: a test runs each on both databases and holds the values
# equal.
PREBUILT: dict[str, Prebuilt] = {}


def prebuilt(name: str, statement: Select[*tuple[Any, ...]]) -> Prebuilt:
    """Register a statement for ``fetch``, refusing now (at import, not on a request) any
    selected column or bind parameter whose type PostgreSQL's dialect processes, unless the
    type is in PASS_THROUGH: the shortcut runs it on asyncpg without that processing.

    Coerce such a column to a plain type where the raw value serves (an enumerated column:
    ``type_coerce(column, String)``, a string on both databases)."""
    if name in PREBUILT:
        raise ValueError(f"a statement named {name!r} is registered already")
    compiled = statement.compile(dialect=_ASYNCPG)
    processed: dict[str, Callable[[Any], Any]] = {}
    expanding = False
    for key, bind in compiled.binds.items():
        expanding = expanding or bind.expanding
        processor = bind.type._cached_bind_processor(_ASYNCPG)
        if processor is None:
            continue
        if type(bind.type) not in PASS_THROUGH:
            raise UnsafeStatement(
                f"{name}: parameter {key!r} is a {bind.type!r}, which PostgreSQL's dialect "
                "processes; pass a value the driver takes, as a type that needs no processing"
            )
        processed[key] = processor
    for column in statement.selected_columns:
        if column.type._cached_result_processor(_ASYNCPG, None) is None:
            continue
        if type(column.type) not in PASS_THROUGH:
            raise UnsafeStatement(
                f"{name}: column {column.key!r} is a {column.type!r}, whose values PostgreSQL's "
                "dialect processes; select it as a type that needs none (type_coerce)"
            )
    query = Prebuilt(name, statement, processed, expanding)
    PREBUILT[name] = query
    return query


def plain_columns(table: Table) -> list[ColumnElement[Any]]:
    """Every column of ``table`` for a prebuilt statement, enumerated ones as the strings they
    store: SQLAlchemy's Enum turns a stored value into a member on its own path, which the
    driver shortcut would not (both databases now give the string; Pydantic and orjson read a
    StrEnum member and its string alike)."""
    return [
        type_coerce(column, String).label(column.name) if isinstance(column.type, Enum) else column
        for column in table.c
    ]


class _UuidList(TypeDecorator[list[uuid.UUID]]):
    """SQLite's json_group_array of UUIDs (stored as text): UUIDs, as PostgreSQL's driver
    gives them."""

    impl = JSON
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> list[uuid.UUID] | None:
        return None if value is None else [uuid.UUID(item) for item in value]


class _ListOf(TypeDecorator[list[Any]]):
    """The type of ``list_of``: on PostgreSQL the driver's own array, with no processing (so
    the driver shortcut and SQLAlchemy's execution agree); on SQLite JSON text, decoded by
    SQLAlchemy's processing, which runs there on every path."""

    impl = JSON
    cache_ok = True

    def __init__(self, uuids: bool = False) -> None:
        super().__init__()
        self.uuids = uuids

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return _UuidList() if self.uuids else JSON()
        return dialect.type_descriptor(NullType())


class list_of(FunctionElement[list[Any]]):  # noqa: N801 (a SQL function, named as one)
    """The values of ``value`` in the rows that match ``where`` (correlated to the enclosing
    select: an asset's tags, an activity's assets), as one list in the enclosing row, unordered.

    One construct for both databases, so a prebuilt statement is written once: PostgreSQL
    renders ``array(SELECT value ...)`` (the driver gives a list), SQLite ``(SELECT
    json_group_array(value) ...)``."""

    inherit_cache = True
    name = "list_of"

    def __init__(self, value: ColumnElement[Any], where: ColumnElement[bool]) -> None:
        values = select(value).where(where).scalar_subquery()
        as_json = select(func.json_group_array(value)).where(where).scalar_subquery()
        self.type = _ListOf(uuids=isinstance(value.type, Uuid))
        super().__init__(values, as_json)


@compiles(list_of, "postgresql")
def _array_of(element: list_of, compiler: SQLCompiler, **kw: Any) -> str:
    values, _ = element.clauses
    return f"array({compiler.process(values, **kw)})"


@compiles(list_of)
def _json_array_of(element: list_of, compiler: SQLCompiler, **kw: Any) -> str:
    _, as_json = element.clauses
    return compiler.process(as_json, **kw)


@dataclass(frozen=True)
class ReadContext:
    """Where a service reads. Outside any transaction (``Sessions.reads``: each statement sees
    its own snapshot, as a request that writes nothing needs; the hot reads), or inside a
    transaction that is already open (``reads_in``: a unit of work, or a read snapshot), when
    what is read must agree with the rest of it."""

    sessions: "Sessions | None"
    session: AsyncSession | None = None
    # Where reads outside a transaction and snapshots run, when not on the primary's reading
    # sessions (Sessions.replica_reads). Writes beside the reads (factory()) go to the primary.
    source: async_sessionmaker[AsyncSession] | None = None

    @property
    def default_reference_model(self) -> str | None:
        if self.sessions is not None:
            return self.sessions.default_reference_model
        assert self.session is not None
        configured: str | None = self.session.info.get(DEFAULT_MODEL)
        return configured

    def factory(self) -> "Sessions":
        """The sessions behind this context (for a side_transaction)."""
        if self.sessions is not None:
            return self.sessions
        assert self.session is not None
        return sessions_of(self.session)

    def reading(self) -> async_sessionmaker[AsyncSession]:
        """The reading sessions this context's reads run on (the replica's, or the primary's)."""
        return self.source or self.factory().read

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A short read-only transaction that sees one snapshot, for reads that must agree with
        each other (an analysis, an export). PostgreSQL's default READ COMMITTED gives each
        statement its own snapshot; SQLite's read transaction is one already. Closed before
        the caller computes, so no connection sits idle in a transaction while the app
        works. Read in it with ``reads_in(session)`` (prebuilt statements) or the session."""
        async with self.reading()() as session:
            if session.get_bind().dialect.name == "postgresql":
                await session.connection(
                    execution_options={
                        "isolation_level": "REPEATABLE READ",
                        "postgresql_readonly": True,
                    }
                )
            try:
                yield session
            finally:
                await session.rollback()


async def get_reads(request: Request) -> ReadContext:
    # async on purpose: FastAPI runs a sync dependency in its threadpool (a hop per request).
    sessions: Sessions = request.app.state.sessions
    return sessions.reads


ReadsDep = Annotated[ReadContext, Depends(get_reads)]


def reads_in(session: AsyncSession) -> ReadContext:
    """Reads inside this open transaction (the unit of work, or a snapshot)."""
    return ReadContext(None, session)


async def fetch(reads: ReadContext, query: Prebuilt, params: Mapping[str, Any]) -> Rows:
    """The rows of a prebuilt statement, as mappings (read values by column name).

    Inside a transaction it runs on that transaction's connection. Outside, it runs without
    an ORM session: a session's transaction bookkeeping (and the request-scoped dependency
    that makes one) cost more than the query on a read of one row. On PostgreSQL the
    statement is compiled once and run on the asyncpg connection itself: a pooled one outside
    any transaction (each statement its own, as under the reading sessions' AUTOCOMMIT), or
    the open transaction's own once it has begun. SQLAlchemy's Connection (isolation-level
    bookkeeping at checkout and return) and its execution (cache key, execution context,
    result processing) cost 0.2 ms of CPU more than the query did, and 4 ms on the 400 rows
    of a large system's tree read in an analysis's snapshot. Skipping that processing cannot
    change a value: ``prebuilt`` refused every type that has any, beyond the PASS_THROUGH
    ones. SQLite runs it through SQLAlchemy."""
    if reads.session is not None:
        connection = await reads.session.connection()
        if connection.dialect.name == "postgresql" and not query.expanding:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            if not driver.is_in_transaction():
                await _begun(connection, raw.dbapi_connection)
            # Only inside the transaction: a statement run on the driver before its BEGIN
            # would see a snapshot of its own, not the transaction's.
            if driver.is_in_transaction():
                return await _on_connection(connection, driver, query, params)
        return await _mapped(connection, query, params)
    engine = reads.reading().kw["bind"]
    assert isinstance(engine, AsyncEngine)
    if engine.dialect.name != "postgresql" or query.expanding:
        async with engine.connect() as connection:
            return await _mapped(connection, query, params)
    return await _on_driver(engine, query, params)


async def _mapped(connection: AsyncConnection, query: Prebuilt, params: Mapping[str, Any]) -> Rows:
    rows: Rows = (await connection.execute(query.statement, dict(params))).mappings().all()
    return rows


async def _begun(connection: AsyncConnection, adapted: Any) -> None:
    """Send the transaction's BEGIN now, as SQLAlchemy's asyncpg adapter does before the
    first statement it runs itself (with the isolation level the session set: a snapshot's
    REPEATABLE READ READ ONLY). A connection in AUTOCOMMIT has no transaction to begin, and
    an adapter without the method (another SQLAlchemy) leaves the statement to SQLAlchemy's
    execution: tests/test_prebuilt.py holds the shortcut taken in a snapshot. A failure is
    reported as SQLAlchemy's execution reports one at its BEGIN (the adapter raises its own
    DBAPI error, which no handler of app.http.problems knows unwrapped): a lost connection
    is a 503."""
    start = getattr(adapted, "_start_transaction", None)
    if start is None or getattr(adapted, "_transaction", ...) is not None:
        return
    dialect = connection.dialect
    try:
        await start()
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, adapted, None)
        if lost:
            # Not pooled again: the adapter began no transaction, so the session's rollback
            # sends nothing that would find the connection gone and invalidate it.
            await connection.invalidate()
        raise DBAPIError.instance(
            "BEGIN",
            None,
            exc,
            dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=dialect,
        ) from exc


def _driver_arguments(
    engine: AsyncEngine, query: Prebuilt, params: Mapping[str, Any]
) -> tuple[str, list[Any]]:
    """The statement's PostgreSQL text (compiled on first use) and its positional values."""
    if query.driver_sql is None:
        text = query.statement.compile(dialect=engine.dialect)
        fixed = {name: value for name, value in text.params.items() if value is not None}
        query.driver_sql = (text.string, tuple(text.positiontup or ()), fixed)
    sql, names, fixed = query.driver_sql
    args = [params[name] if name in params else fixed[name] for name in names]
    if query.processed:
        args = [
            query.processed[name](value) if name in query.processed else value
            for name, value in zip(names, args, strict=True)
        ]
    return sql, args


async def _on_connection(
    connection: AsyncConnection, driver: Any, query: Prebuilt, params: Mapping[str, Any]
) -> Rows:
    """On a transaction's own connection: a failure is reported as SQLAlchemy's execution
    reports it, and the session's rollback (or its invalidation of a lost connection) deals
    with the connection, as after any failed statement in the transaction."""
    sql, args = _driver_arguments(connection.engine, query, params)
    # What watches the engine's statements (the tests' query counts and snapshot probes,
    # tracing) sees this one, on the transaction's connection (with no execution context:
    # SQLAlchemy's execution did not run it).
    dispatch = connection.engine.sync_engine.dispatch
    if dispatch.before_cursor_execute:
        await connection.run_sync(
            lambda sync: dispatch.before_cursor_execute(sync, None, sql, args, None, False)
        )
    try:
        rows: Rows = await driver.fetch(sql, *args)
    except _LOST as exc:
        raise DBAPIError(sql, args, exc, connection_invalidated=True) from exc
    except asyncpg.PostgresError as exc:
        raise DBAPIError(sql, args, exc) from exc
    if dispatch.after_cursor_execute:
        await connection.run_sync(
            lambda sync: dispatch.after_cursor_execute(sync, None, sql, args, None, False)
        )
    return rows


async def _on_driver(engine: AsyncEngine, query: Prebuilt, params: Mapping[str, Any]) -> Rows:
    sql, args = _driver_arguments(engine, query, params)
    # What watches the engine's statements (the tests' query counts, tracing) sees this one.
    dispatch = engine.sync_engine.dispatch
    if dispatch.before_cursor_execute:
        dispatch.before_cursor_execute(None, None, sql, args, None, False)
    raw = await engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        rows: Rows = await driver.fetch(sql, *args)
    except _LOST as exc:
        # Closed, not pooled (the pool opens a new one), and reported as SQLAlchemy's own
        # execution reports a disconnect, so the caller gets the same 503 as on any path.
        raw.invalidate()
        raise DBAPIError(sql, args, exc, connection_invalidated=True) from exc
    except BaseException:
        # A statement that failed or was cancelled midway (a client gone) may leave the
        # connection mid-protocol: it is closed rather than handed to the next request.
        raw.invalidate()
        raise
    finally:
        # Back to the pool. Nothing here began a transaction, so the pool's reset on return
        # (a rollback) has nothing to send and never needs to await.
        raw.close()
    return rows


async def fetch_in_transaction(session: AsyncSession, statement: Executable) -> Sequence[Any]:
    """An ad-hoc Core select (built per call, with values inlined: an analysis's filters) in
    the caller's transaction, through SQLAlchemy's full processing; rows unpack like tuples.
    A statement a request runs again and again is a ``prebuilt`` one, run by ``fetch``."""
    connection = await session.connection()
    return (await connection.execute(statement)).all()
