"""Every file the README's examples write in the project folder is git-ignored, so following
the walk-through never leaves a file for `git add .` to commit."""

import re
import shutil
import subprocess

import pytest

from app.config import PROJECT_ROOT

BLOCK = re.compile(r"```(?:bash|sh|shell|console)?\n(.*?)```", re.DOTALL)
# curl -o FILE, lhs-map --output FILE, cat > FILE <<..., command > FILE.
WRITES = (
    re.compile(r"(?:^|\s)(?:-o|--output)\s+([\w.][\w./-]*)"),
    re.compile(r"(?<![0-9&>])>\s*([\w.][\w./-]*\.\w+)"),
    re.compile(r"--file\s+([\w.][\w./-]*)"),
)


def written_by_the_readme() -> set[str]:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    found: set[str] = set()
    for block in BLOCK.findall(text):
        for pattern in WRITES:
            found.update(pattern.findall(block))
    # What `make run` writes beside the examples.
    return found | {".lhs-admin-key", "lhs.db", ".metrics/8000/counter_1.db"}


def test_the_readme_writes_files_this_test_sees() -> None:
    names = written_by_the_readme()
    assert "report.pdf" in names  # the walk-through's download
    assert "assets.csv" in names  # a file it makes with cat >


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_every_file_the_readme_writes_is_ignored() -> None:
    names = sorted(written_by_the_readme())
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin", "-v", "-n"],  # noqa: S607
        input="\n".join(names),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=30,
        check=False,
    )
    unignored = [
        line.split("\t")[1] for line in checked.stdout.splitlines() if line.startswith("::")
    ]
    assert unignored == []
