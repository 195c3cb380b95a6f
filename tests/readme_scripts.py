"""Running the README's shell blocks as a reader would: from the project directory after
`make run` (the local admin key in its file), against a test server instead of port 8000,
stopping at the first HTTP error."""

import asyncio
from pathlib import Path

from app.config import PROJECT_ROOT

MAKE_RUN_ADDRESS = "http://127.0.0.1:8000"


def readme_script(heading: str) -> str:
    """The first ```sh block after a heading of the README (its text, from `#`)."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(heading, 1)[1]
    return section.split("```sh", 1)[1].split("```", 1)[0]


async def run_readme_script(
    script: str, *, server: str, api_key: str, cwd: Path, seconds: float = 60
) -> str:
    """The script's output (stdout and stderr); fails the test with it when the script fails.
    The only change to the script: the test server's address instead of make run's."""
    script = script.replace(MAKE_RUN_ADDRESS, server)
    # No pipefail: `| head` closes early.
    script = 'set -eu\ncurl() { command curl --fail-with-body "$@"; }\n' + script
    (cwd / ".lhs-admin-key").write_text(api_key + "\n", encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=seconds)
    text = output.decode()
    assert process.returncode == 0, text
    return text
