"""Test fixtures: the real schema (alembic upgrade head) on a real database, the real app.

Every test that touches the database runs twice: on SQLite (a temporary file) and on
PostgreSQL when LHS_TEST_DATABASE_URL is set. Tables are emptied after each test.
"""

import asyncio
import os
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy import Engine, bindparam, event, make_url, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app import caches
from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, utcnow
from app.main import create_app
from app.models import BenchmarkSnapshot
from app.reference.service import shipped_models
from tests.auth_helpers import make_key
from tests.helpers import wait_for

PG_URL = os.environ.get("LHS_TEST_DATABASE_URL")
TABLES = (
    "benchmark_entry",
    "audit_event",
    "api_key",
    "idempotency_record",
    "self_assessment_answer",
    "self_assessment",
    "assessment",
    "activity_asset",
    "asset_tag",
    "activity",
    "asset",
    "organisation",
)


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


async def migrate(database_url: str, revision: str = "head", *, down: bool = False) -> None:
    """Run Alembic as the deployment does (its env.py owns an event loop: use a thread)."""
    config = alembic_config(database_url)
    action = command.downgrade if down else command.upgrade
    await asyncio.to_thread(action, config, revision)


@pytest.fixture(scope="session")
def sqlite_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="lhs-tests-") as directory:
        yield Path(directory)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, sqlite_dir: Path) -> str:
    if request.param == "sqlite":
        # The directory is the process's own: parallel workers never share a file.
        return f"sqlite+aiosqlite:///{sqlite_dir / 'test.db'}"
    if not PG_URL:
        if os.environ.get("LHS_REQUIRE_POSTGRES") == "1":
            pytest.fail("LHS_REQUIRE_POSTGRES=1 but LHS_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL half skipped: LHS_TEST_DATABASE_URL is not set")
    return await worker_database(Settings(database_url=PG_URL).database_url)


async def worker_database(url: str) -> str:
    """The database of this pytest-xdist worker (``test_gw0``, ``test_gw1``… beside
    ``test``), dropped and created empty at the start of each session, so that parallel
    workers never see each other's rows and a stale one left by a killed run never counts.
    Without xdist the configured database itself."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    server = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await server.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


@dataclass
class Backend:
    url: str
    app: FastAPI
    engine: AsyncEngine

    @property
    def name(self) -> str:
        return self.engine.dialect.name

    @property
    def engines(self) -> list[Engine]:
        """Every engine the app runs statements on, for statement listeners: on SQLite the
        writing sessions have one of their own (its single writer connection)."""
        return [self.engine.sync_engine, *(e.sync_engine for e in self.app.state.sessions.opened)]


@pytest.fixture(autouse=True)
def empty_caches() -> None:
    """Each test starts with the process's caches empty: tests share one app per database, and
    a key, a parsed model or an analysis remembered by an earlier test must not answer for
    this one (its rows may have been rolled back or emptied and made again alike)."""
    caches.clear_all()


@pytest.fixture(scope="session")
async def backend(database_url: str) -> AsyncIterator[Backend]:
    await migrate(database_url, "base", down=True)
    await migrate(database_url)
    app = create_app(settings_for(database_url))
    # A new database's benchmark snapshot is due (never taken): mark it just taken before the
    # app's start-up chores see it, or they would take one in the background during the first
    # test, beside its writes.
    engine = make_engine(settings_for(database_url))
    try:
        await empty_tables(engine)
    finally:
        await engine.dispose()
    async with app.router.lifespan_context(app):
        yield Backend(url=database_url, app=app, engine=app.state.engine)


# Suites make many requests a second: the limiter has its own tests (tests/test_ratelimit.py).
TEST_RATE_LIMIT = "1000000/minute"


def settings_for(database_url: str, **overrides: Any) -> Settings:
    return Settings(**({"database_url": database_url, "rate_limit": TEST_RATE_LIMIT} | overrides))


async def admin_headers(app: FastAPI) -> dict[str, str]:
    """Credentials for an app a test started itself: a global admin key, when the database is
    writable (a test of a read-only database gets none, and says what it expects)."""
    try:
        _, key = await make_key(app.state.sessions, "admin", name="test suite")
    except SQLAlchemyError:
        return {}
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def api_key(backend: Backend) -> str:
    """A global admin's key: what the tests act as unless they say otherwise."""
    _, key = await make_key(backend.app.state.sessions, "admin", name="test suite")
    return key


@pytest.fixture
async def client(backend: Backend, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=backend.app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://localhost",
        headers={"Authorization": f"Bearer {api_key}"},
    ) as http:
        yield http
    await empty_tables(backend.engine)


async def empty_tables(engine: AsyncEngine) -> None:
    shipped = [model.version for model in shipped_models()]
    async with engine.begin() as connection:
        # The tree references itself: cut the links before deleting the rows.
        await connection.execute(text("UPDATE organisation SET parent_id = NULL"))
        for table in TABLES:
            await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
        # The benchmark snapshot's one row stays (a refresh only updates it), as just taken
        # and empty: an app a later test starts has no snapshot due, so takes none of its own
        # beside the test's writes (tests take theirs when they mean to).
        await connection.execute(update(BenchmarkSnapshot).values(taken_at=utcnow()))
        await connection.execute(
            text("DELETE FROM reference_model WHERE version NOT IN :versions").bindparams(
                bindparam("versions", expanding=True)
            ),
            {"versions": shipped},
        )


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a rejected request wrote nothing."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as connection:
        for table in (*TABLES, "reference_model"):
            result = await connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            # When a key was last used is noted beside the request, refused or not (the key
            # was used): not something the request wrote.
            kept = [i for i, name in enumerate(result.keys()) if name not in UNWRITTEN]
            tables[table] = sorted(tuple(str(row[i]) for i in kept) for row in result)
    return tables


UNWRITTEN = frozenset({"last_used_at"})


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, *args: Any) -> None:
        self.statements.append(str(args[2]))

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def queries(backend: Backend) -> Iterator[QueryCounter]:
    counter = QueryCounter()
    for engine in backend.engines:
        event.listen(engine, "before_cursor_execute", counter)
    yield counter
    for engine in backend.engines:
        event.remove(engine, "before_cursor_execute", counter)


def pytest_configure(config: pytest.Config) -> None:
    """The suite writes bytecode for the project's own modules even where the environment says
    not to (PYTHONDONTWRITEBYTECODE; the files are git-ignored): each CLI or uvicorn process a
    test starts, and each xdist worker, imports the whole app, and compiling it from source
    again every time cost a third of a second of CPU per process (the installed packages are
    compiled by ``make install``). Set here, before the workers start, so they and every
    process they start inherit it."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for the ``server`` fixture starts a uvicorn process of its own (and
    one that asks for ``shared_server`` uses one)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "server" in names or "shared_server" in names:
            item.add_marker(pytest.mark.real_server)
    items.sort(key=run_order)


# The marks of tests that take seconds on their own.
LONG = ("slow", "browser", "real_server")


def run_order(item: pytest.Item) -> int:
    """Where a test runs in the session (xdist hands tests out in this order). Each
    database's long tests run before its short ones: started last, a long test kept one
    worker busy while the other had nothing left. The long tests without a database go
    first, the short ones last, to fill the end; each database's tests stay together (its
    app and its shared server are made once per worker). Stable: tests keep their order
    within each of the six parts."""
    long = any(item.get_closest_marker(mark) for mark in LONG)
    params = getattr(item, "callspec", None)
    database = params.params.get("database_url") if params is not None else None
    if database is None:
        return 0 if long else 5
    return (1 if database == "sqlite" else 3) + (0 if long else 1)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not PG_URL:
        terminalreporter.write_sep(
            "!",
            "PostgreSQL half SKIPPED: set LHS_TEST_DATABASE_URL to run every database test "
            "on PostgreSQL too",
            yellow=True,
        )


STARTUP_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_until_live(base_url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=1.0) as http:

        async def live() -> bool:
            if process.returncode is not None:
                return True  # no point waiting: said below
            try:
                return (await http.get("/_ping")).status_code == 200
            except httpx.TransportError:
                return False

        try:
            await wait_for(live, STARTUP_SECONDS, interval=0.05)
        except AssertionError:
            output = await asyncio.to_thread(log.read_text)
            pytest.fail(f"uvicorn did not answer /_ping within {STARTUP_SECONDS} s:\n{output}")
    if process.returncode is not None:
        output = await asyncio.to_thread(log.read_text)
        pytest.fail(f"uvicorn exited with {process.returncode}:\n{output}")


# The flags `make run` gives uvicorn (tests/test_transport.py checks the Makefile and the
# Dockerfile still do; tests/test_cli_serve.py that `lhs-map serve` acts alike): without
# --no-server-header uvicorn adds a Server header after the app has removed its own; without
# --no-proxy-headers it trusts X-Forwarded-For from loopback (the app trusts it from
# LHS_FORWARDED_ALLOW_IPS only).
UVICORN_FLAGS = ("--no-proxy-headers", "--no-access-log", "--no-server-header")


class ServerUrl(str):
    """A running server's base URL, with the id of its process (to read its memory)."""

    pid: int


@asynccontextmanager
async def running_server(
    database_url: str, log: Path, *args: str, **environment: str
) -> AsyncIterator[ServerUrl]:
    """A real uvicorn process serving app.main:app on an (already migrated) database, started
    as `make run` starts it; ``args`` adds uvicorn options (``--workers 2``), ``environment``
    adds settings. Yields its base URL (with the process id)."""
    async with running_server_on(free_port(), database_url, log, *args, **environment) as url:
        yield url


@asynccontextmanager
async def running_server_on(
    port: int, database_url: str, log: Path, *args: str, **environment: str
) -> AsyncIterator[ServerUrl]:
    """``running_server`` on a port of the caller's choosing."""
    env = os.environ | {
        "LHS_DATABASE_URL": database_url,
        "LHS_RATE_LIMIT": TEST_RATE_LIMIT,
        # Bursts of the suite's concurrency tests wait for a slot instead of being refused:
        # the refusals have their own tests (tests/test_overload.py).
        "LHS_OVERLOAD_QUEUE": "1000",
        "LHS_OVERLOAD_WAIT_SECONDS": "60",
    }
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *UVICORN_FLAGS,
            *args,
            cwd=PROJECT_ROOT,
            env=env | environment,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        base_url = ServerUrl(f"http://127.0.0.1:{port}")
        base_url.pid = process.pid
        await wait_until_live(base_url, process, log)
        yield base_url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.fixture
async def server(
    backend: Backend, client: httpx.AsyncClient, tmp_path: Path
) -> AsyncIterator[ServerUrl]:
    """A real uvicorn process on the backend's (already migrated) database.

    It depends on ``client`` so that it stops before that fixture empties the tables.
    """
    async with running_server(backend.url, tmp_path / "uvicorn.log") as base_url:
        yield base_url


@pytest.fixture(scope="session")
async def shared_server_process(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServerUrl]:
    """One real uvicorn per worker and database, started when a test first asks for it."""
    log = tmp_path_factory.mktemp("shared-uvicorn") / "uvicorn.log"
    async with running_server(backend.url, log) as base_url:
        yield base_url


@pytest.fixture
async def shared_server(shared_server_process: ServerUrl, client: httpx.AsyncClient) -> ServerUrl:
    """A real uvicorn on the backend's database, as ``server`` gives, but started once and
    shared by the tests that need a real server and nothing of their own in it (no settings
    of their own, no measure of its process): starting one costs a second or more. Like the
    tests' app, it keeps its in-process caches from test to test; what they hold is keyed by
    what a test makes afresh (ids, keys, row versions). It depends on ``client``, which empties
    the tables after the test."""
    return shared_server_process
