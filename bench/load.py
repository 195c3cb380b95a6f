"""Drive a URL from another process for a bounded time: wrk when installed, else the Python
generator (bench/loadgen.py). Both return requests per second, p50 and p99."""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("wrk.lua")
MAX_REQUESTS = 500_000  # per run: a bound on count as well as on time


@dataclass(frozen=True)
class Request:
    path: str
    method: str = "GET"
    body: str = ""
    expect: int = 200
    headers: tuple[str, ...] = ()  # "Name: value", sent with every request
    # A file of "path if-match" lines, each requested once (wrk only): writes that need a
    # record of their own at a known version (an update, a delete).
    targets: Path | None = None


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # failed connections, timeouts, and answers other than the expected status
    tool: str
    leftover_seconds: float = 0.0  # how long the server worked on after the run had ended

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def tool() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def drive(
    base: str, request: Request, *, connections: int, seconds: float, authorization: str = ""
) -> Result:
    if not base.startswith("http://127.0.0.1:"):
        raise ValueError("load runs target 127.0.0.1 only")
    if tool() == "wrk":
        return _wrk(base, request, connections, seconds, authorization)
    return _python(base, request, connections, seconds, authorization)


def _wrk(base: str, request: Request, connections: int, seconds: float, auth: str) -> Result:
    threads = max(1, min(2, connections))
    env = os.environ | {
        "BENCH_METHOD": request.method,
        "BENCH_BODY": request.body,
        "BENCH_AUTHORIZATION": auth,
        "BENCH_MAX_REQUESTS_PER_THREAD": str(MAX_REQUESTS // threads),
        "BENCH_HEADERS": "\n".join(request.headers),
        "BENCH_TARGETS": str(request.targets or ""),
        "BENCH_THREADS": str(threads),
    }
    completed = subprocess.run(  # noqa: S603 - fixed program, our own arguments
        [
            shutil.which("wrk") or "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",  # wrk takes whole seconds
            "--timeout",
            "30s",
            "-s",
            str(SCRIPT),
            base + request.path,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next(
        (x for x in completed.stdout.splitlines() if x.startswith("BENCH-JSON ")),
        None,
    )
    if line is None:
        raise RuntimeError(f"wrk gave no summary:\n{completed.stdout}\n{completed.stderr}")
    summary = json.loads(line.removeprefix("BENCH-JSON "))
    errors = sum(
        summary[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    if not summary["requests"]:  # nothing completed within the run: every request failed
        errors = max(errors, 1)
    # wrk counts 3xx as success; every scenario expects one 2xx status.
    return Result(
        rps=round(summary["requests"] / (summary["duration_us"] / 1e6), 1),
        p50_ms=round(summary["p50_us"] / 1000, 2),
        p99_ms=round(summary["p99_us"] / 1000, 2),
        requests=summary["requests"],
        errors=errors,
        tool="wrk",
    )


def run_loadgen(
    url: str,
    *,
    connections: int,
    seconds: float,
    headers: list[str],
    method: str = "GET",
    body: str = "",
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        url,
        "--connections",
        str(connections),
        "--duration",
        str(seconds),
        "--method",
        method,
        "--body",
        body,
        "--max-requests",
        str(MAX_REQUESTS),
    ]
    for header in headers:
        command += ["--header", header]
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, capture_output=True, text=True, timeout=seconds + 90, check=True
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def _python(base: str, request: Request, connections: int, seconds: float, auth: str) -> Result:
    if request.targets is not None:
        raise RuntimeError("a run over a file of targets needs wrk")
    headers = [f"Authorization: {auth}"] if auth else []
    headers += request.headers
    out = run_loadgen(
        base + request.path,
        connections=connections,
        seconds=seconds,
        headers=headers,
        method=request.method,
        body=request.body,
    )
    expected = out["by_status"].get(str(request.expect), {"count": 0})
    return Result(
        rps=out["rps"],
        p50_ms=out["p50_ms"],
        p99_ms=out["p99_ms"],
        requests=out["requests"],
        errors=out["errors"] + out["timeouts"] + out["requests"] - expected["count"],
        tool="python",
    )
