"""Start an ASGI app under a real uvicorn on 127.0.0.1, in its own process, and stop it.

Every app measured (the service and the references) runs with the same flags: uvloop,
httptools, no access log, 1 or 2 worker processes.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.config import PROJECT_ROOT

HOST = "127.0.0.1"
STARTUP_SECONDS = 60.0
DRAIN_SECONDS = 120.0
IDLE_WINDOW = 0.5
IDLE_CPU = 0.05  # of one CPU: below this the server is idle
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def uvicorn_command(target: str, port: int, workers: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--no-proxy-headers",  # as `make run`: the app applies trusted proxies itself
        "--log-level",
        "warning",
        *extra,
    ]


@dataclass(frozen=True)
class Server:
    base: str
    pid: int

    def drain(self, timeout: float = DRAIN_SECONDS) -> float:
        """Wait until the server has finished the work a load run left behind (a client that
        went away leaves its request running): the next run must not pay for it. Returns how
        long that took."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            before = _cpu_seconds(self.pid)
            time.sleep(IDLE_WINDOW)
            if _cpu_seconds(self.pid) - before < IDLE_CPU * IDLE_WINDOW:
                break
        return time.monotonic() - began


def process_tree(pid: int) -> Iterator[int]:
    """A process and its descendants (uvicorn's workers), from /proc; gone ones are skipped."""
    pending = [pid]
    while pending:
        current = pending.pop()
        yield current
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(child) for child in children)


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children, from /proc."""
    total = 0.0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
        except (OSError, IndexError, ValueError):
            continue
    return total


@contextmanager
def serve(
    target: str, *, workers: int, env: dict[str, str], ready_path: str, extra: tuple[str, ...] = ()
) -> Iterator[Server]:
    """Yield the server once every worker answers ``ready_path``; stop it after."""
    port = free_port()
    with tempfile.NamedTemporaryFile("w+", prefix="bench-uvicorn-", suffix=".log") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            uvicorn_command(target, port, workers, *extra),
            cwd=PROJECT_ROOT,
            env=os.environ | env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://{HOST}:{port}"
        try:
            wait_until_ready(base + ready_path, process, Path(log.name), workers)
            yield Server(base, process.pid)
        finally:
            stop(process)


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path, workers: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    answered = 0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited ({process.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                answered += 1
                # Each worker imports and starts on its own: give the others time to listen.
                if answered >= 2 * workers:
                    time.sleep(0.5 * workers)
                    return
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"uvicorn did not answer {url} in {STARTUP_SECONDS:.0f} s:\n{log.read_text()}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
