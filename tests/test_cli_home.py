"""The server and `lhs-map` find the database the same way whatever the current directory
(LHS_HOME), name a missing or unmigrated one with the command that fixes it, and `lhs-map
--help` loads neither the web stack nor the database layer."""

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT, Settings, anchored, default_home
from app.main import create_app
from tests.conftest import settings_for
from tests.test_auth_cli import LHS_MAP

# What the help must not load: the web stack and the database layer.
HEAVY = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "sqlmodel", "app.db", "app.models")


def imported_by(*args: str) -> set[str]:
    """Every module a fresh interpreter imports to run ``lhs-map ARGS`` (-X importtime)."""
    done = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-X", "importtime", "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage:" in done.stdout
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize("args", [["--help"], ["rotate-api-key", "--help"]])
def test_the_help_loads_neither_the_web_stack_nor_the_database_layer(args: list[str]) -> None:
    modules = imported_by(*args)
    assert "click" in modules
    assert "app.config" in modules
    loaded = sorted(
        name for name in modules if any(name == h or name.startswith(h + ".") for h in HEAVY)
    )
    assert loaded == []


def test_a_relative_sqlite_file_lives_under_the_home_and_other_urls_stay_as_given(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    assert anchored("sqlite+aiosqlite:///lhs.db", home) == f"sqlite+aiosqlite:///{home}/lhs.db"
    assert anchored("sqlite+aiosqlite:///./d/x.db?mode=ro", home) == (
        f"sqlite+aiosqlite:///{home}/d/x.db?mode=ro"
    )
    for kept in (
        "sqlite+aiosqlite:////srv/lhs.db",
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///file:/srv/lhs.db?mode=ro&uri=true",
        "postgresql+asyncpg://lhs@db/lhs",
    ):
        assert anchored(kept, home) == kept
    settings = Settings(home=home)
    assert settings.database_url == f"sqlite+aiosqlite:///{home}/lhs.db"
    # A source checkout is its own home: where `make run` has always put lhs.db.
    assert default_home() == PROJECT_ROOT


def cli(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "LHS_DATABASE_URL"}
    return subprocess.run(  # noqa: S603 - the installed lhs-map
        [LHS_MAP, *args],
        capture_output=True,
        text=True,
        env=environment | {"LHS_HOME": str(home)},
        cwd=cwd,
        timeout=60,
        check=False,
    )


async def test_the_command_line_finds_its_home_database_from_any_directory(
    tmp_path: Path,
) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    missing = await asyncio.to_thread(cli, home, elsewhere, "create-api-key", "--role", "admin")
    assert missing.returncode == 1
    message = " ".join(missing.stderr.split())
    assert str(home / "lhs.db") in message
    assert "lhs-map migrate" in message
    assert list(home.iterdir()) == []
    assert list(elsewhere.iterdir()) == []

    migrated = await asyncio.to_thread(cli, home, elsewhere, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert (home / "lhs.db").is_file()
    assert list(elsewhere.iterdir()) == []
    made = await asyncio.to_thread(cli, home, tmp_path, "create-api-key", "--role", "admin")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("lhs_")


async def test_the_server_names_an_unmigrated_database_and_the_fix_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    app = create_app(settings_for(url))
    with caplog.at_level(logging.ERROR, logger="app.db"):
        async with app.router.lifespan_context(app):
            pass
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert str(tmp_path / "empty.db") in logged
    assert "lhs-map migrate" in logged
