"""A fresh national database (schema, reference model, an admin key) and the service over it
under a real uvicorn on a port the caller chooses."""

import asyncio
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_sessions
from app.reference import gate as reference_gate
from bench import server
from bench.dataset import admin_key, migrate_fresh
from bench.server import HOST, uvicorn_command

RATE_LIMIT = "100000000/minute"  # measured as part of the path, never hit


async def _key_and_model(url: str, *, install: bool = True) -> str:
    settings = Settings(database_url=url, log_level="WARNING")
    engine = make_engine(settings)
    sessions = make_sessions(engine, settings)
    try:
        if install:
            async with sessions.write() as session:
                await reference_gate.install_shipped(session)
        key = await admin_key(sessions, "national")
    finally:
        await sessions.dispose()
        await engine.dispose()
    return str(key)


def fresh(url: str) -> str:
    """Drop and rebuild the scratch database's schema; the admin key the bench sends."""
    migrate_fresh(url)
    return asyncio.run(_key_and_model(url))


def mint_key(url: str) -> str:
    """Another admin key for a database already loaded (a re-measure without a reload)."""
    return asyncio.run(_key_and_model(url, install=False))


def environment(url: str) -> dict[str, str]:
    return {"LHS_DATABASE_URL": url, "LHS_RATE_LIMIT": RATE_LIMIT}


class Running:
    def __init__(self, base: str, pid: int) -> None:
        self.base, self.pid = base, pid


@contextmanager
def serve(url: str, *, port: int, workers: int = 2) -> Iterator[Running]:
    """The service on 127.0.0.1:``port`` until the block ends (its process group stopped)."""
    with tempfile.NamedTemporaryFile("w+", prefix="national-uvicorn-", suffix=".log") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            uvicorn_command("app.main:app", port, workers),
            cwd=PROJECT_ROOT,
            env=os.environ | environment(url),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://{HOST}:{port}"
        try:
            server.wait_until_ready(base + "/_ping", process, Path(log.name), workers)
            yield Running(base, process.pid)
        finally:
            server.stop(process)
