"""`make run` installs what serving needs and no more; `make test` adds the dev extra. Read
from what make would run (make -n, on a virtual environment that does not exist yet), and the
image installs as `make run` does."""

import shutil
import subprocess
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT

MAKE = shutil.which("make")


def planned(target: str, tmp_path: Path) -> list[str]:
    """The commands `make TARGET` would run from scratch (nothing installed yet)."""
    assert MAKE is not None
    done = subprocess.run(  # noqa: S603 - make, on this project's own Makefile
        [MAKE, "-n", target, f"VENV={tmp_path / 'venv'}"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if "uv sync" in line]


@pytest.mark.skipif(MAKE is None, reason="no make on this machine")
def test_make_run_installs_without_the_dev_extra_and_make_test_with_it(tmp_path: Path) -> None:
    (run_sync,) = planned("run", tmp_path)
    assert "--frozen" in run_sync
    assert "--extra dev" not in run_sync
    # Serving after testing keeps the test tools: it adds, never removes.
    assert "--inexact" in run_sync
    test_syncs = planned("test", tmp_path)
    assert test_syncs
    assert all("--frozen --extra dev" in line for line in test_syncs)


def test_the_image_installs_without_the_dev_extra_and_migrates_as_the_cli_does() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    syncs = [line for line in dockerfile.splitlines() if "uv sync" in line]
    assert len(syncs) == 2
    assert not [line for line in syncs if "--extra" in line or "--all-extras" in line]
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert "lhs-map migrate" in command
