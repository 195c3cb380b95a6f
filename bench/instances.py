"""Past one machine: two uvicorn instances of one worker each (on two ports, sharing one
PostgreSQL and one Redis, the load split between them) against one instance of two workers,
on the same cores, with the same request mix.

    LHS_BENCH_DATABASE_URL=postgresql://... python -m bench instances [--rounds 3] [--seconds 10]

The mix (reads, analyses and creates) is driven by wrk (bench/wrk_mix.lua): (a) one wrk of
two threads and all the connections against the two-worker instance; (b) two wrk of one
thread and half the connections each, at the same time, one per instance. Both use Redis
(the rate limit and key announcements), so only the topology differs. (a) and (b) alternate,
``--rounds`` times, each on servers started afresh, warmed up and left idle before the run;
the ratio is of the medians. Writes bench/results/instances.json and instances.md.
"""

import argparse
import asyncio
import json
import logging
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.config import PROJECT_ROOT, Settings
from bench import dataset, report, server
from bench.scenarios import NEW_ASSET


def say(message: str) -> None:
    """Progress on stderr (the migrations' logging setup silences the bench logger)."""
    print(message, file=sys.stderr, flush=True)


RESULTS = Path(__file__).with_name("results")
SCRIPT = Path(__file__).with_name("wrk_mix.lua")
RATE_LIMIT = "100000000/minute"  # counted in Redis on every request, never reached
TARGET = 0.9
# Ports of their own: (a) on the first, (b) on the next two.
PORTS = (18520, 18521, 18522)


def mix(data: dataset.Dataset) -> list[tuple[str, str, str]]:
    """One turn of the mix: 20 requests, of which 2 creates, 4 analyses, 4 pages of 50."""
    member, small = data.member, data.small_member
    reads = [
        ("GET", f"/v1/assets/{data.asset}", ""),
        ("GET", f"/v1/organisations/{member}", ""),
        ("GET", f"/v1/organisations/{member}/assets?limit=50", ""),
    ]
    analyses = [
        ("GET", f"/v1/organisations/{member}/gap-analysis", ""),
        ("GET", f"/v1/organisations/{small}/gap-analysis", ""),
        ("GET", f"/v1/organisations/{data.small_ics}/gap-analysis?scope=system", ""),
    ]
    create = ("POST", f"/v1/organisations/{data.standalone}/assets", NEW_ASSET)
    return [
        *reads * 2,
        analyses[0],
        *reads,
        create,
        analyses[1],
        *reads,
        analyses[0],
        analyses[2],
        reads[0],
        reads[2],
        create,
    ]


@dataclass(frozen=True)
class Run:
    rps: float  # served (2xx) a second: refusals under overload are not throughput
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    error_kinds: dict[str, int]
    statuses: dict[str, int]  # answers other than 2xx, by status


def _wrk(
    base: str,
    requests: list[tuple[str, str, str]],
    *,
    threads: int,
    connections: int,
    seconds: int,
    authorization: str,
) -> "subprocess.Popen[str]":
    if not base.startswith("http://127.0.0.1:"):
        raise ValueError("load runs target 127.0.0.1 only")
    env = os.environ | {
        "BENCH_MIX": "\n".join("\t".join(r) for r in requests),
        "BENCH_AUTHORIZATION": authorization,
    }
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(SCRIPT),
        base + "/",
    ]
    return subprocess.Popen(  # noqa: S603 - fixed program, our own arguments
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _result(process: "subprocess.Popen[str]", seconds: int) -> Run:
    out, err = process.communicate(timeout=seconds + 60)
    line = next((x for x in out.splitlines() if x.startswith("BENCH-JSON ")), None)
    if process.returncode or line is None:
        raise RuntimeError(f"wrk failed:\n{out}\n{err}")
    s = json.loads(line.removeprefix("BENCH-JSON "))
    kinds = ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    errors = sum(s[k] for k in kinds)
    statuses = _statuses(out)
    served = s["requests"] - sum(statuses.values())
    return Run(
        rps=round(served / (s["duration_us"] / 1e6), 1),
        requests=s["requests"],
        errors=errors,
        p50_ms=round(s["p50_us"] / 1000, 2),
        p99_ms=round(s["p99_us"] / 1000, 2),
        error_kinds={k: s[k] for k in kinds if s[k]},
        statuses=statuses,
    )


def _statuses(out: str) -> dict[str, int]:
    line = next((x for x in out.splitlines() if x.startswith("BENCH-FAILURES")), "")
    found: dict[str, int] = {}
    for part in line.removeprefix("BENCH-FAILURES").split():
        status, _, count = part.partition("=")
        found[status] = found.get(status, 0) + int(count)
    return found


def drive(
    bases: list[str],
    requests: list[tuple[str, str, str]],
    *,
    connections: int,
    seconds: int,
    authorization: str,
) -> list[Run]:
    """One wrk per base, all at once, the connections (and two threads) shared out."""
    share = connections // len(bases)
    threads = max(1, 2 // len(bases))
    running = [
        _wrk(
            base,
            requests,
            threads=threads,
            connections=share,
            seconds=seconds,
            authorization=authorization,
        )
        for base in bases
    ]
    return [_result(process, seconds) for process in running]


@contextmanager
def topology(name: str, env: dict[str, str]) -> Iterator[list[server.Server]]:
    """(a): one instance of two workers; (b): two instances of one worker each. Either way in
    one session of their own: Linux's scheduler (autogroup) shares the CPU fairly between
    sessions, so two instances in two sessions would take two shares of a busy machine
    against the other's one, and the comparison would measure that, not the topology."""
    layout = [(PORTS[0], 2)] if name == "a" else [(PORTS[1], 1), (PORTS[2], 1)]
    commands = [
        shlex.join(server.uvicorn_command("app.main:app", port, workers, "--no-server-header"))
        for port, workers in layout
    ]
    with tempfile.NamedTemporaryFile("w+", prefix="bench-instances-", suffix=".log") as log:
        group = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            ["/bin/sh", "-c", " & ".join(commands) + " & wait"],
            cwd=PROJECT_ROOT,
            env=os.environ | env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            servers = []
            for port, workers in layout:
                base = f"http://{server.HOST}:{port}"
                server.wait_until_ready(base + "/_ping", group, Path(log.name), workers)
                servers.append(server.Server(base, group.pid))
            yield servers
        finally:
            server.stop(group)


def measure(
    name: str, data: dataset.Dataset, env: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    requests = mix(data)
    auth = f"Bearer {data.key}"
    with topology(name, env) as servers:
        bases = [s.base for s in servers]
        # Every worker reads, parses and remembers what the mix needs; then all go idle.
        drive(
            bases, requests, connections=args.connections, seconds=args.warmup, authorization=auth
        )
        for running in servers:
            running.drain()
        runs = drive(
            bases,
            requests,
            connections=args.connections,
            seconds=args.seconds,
            authorization=auth,
        )
        for running in servers:
            running.drain()
    total = round(sum(r.rps for r in runs), 1)
    say(
        f"  ({name}) {total:8.1f} req/s  "
        + "  ".join(
            f"[{r.rps} req/s p50 {r.p50_ms} ms p99 {r.p99_ms} ms "
            f"errors {r.error_kinds or 0} {r.statuses or ''}]"
            for r in runs
        )
    )
    return {"rps": total, "errors": sum(r.errors for r in runs), "runs": [asdict(r) for r in runs]}


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench instances", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="(a) then (b), this many times")
    parser.add_argument("--seconds", type=int, default=10, help="per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--smoke", action="store_true", help="tiny data, one short round")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if shutil.which("wrk") is None:
        print("python -m bench instances needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    database = os.environ.get("LHS_BENCH_DATABASE_URL")
    if not database:
        print("set LHS_BENCH_DATABASE_URL to a scratch PostgreSQL database", file=sys.stderr)
        return 2
    if args.smoke:
        args.rounds, args.seconds, args.warmup = 1, 2, 1
    redis_url = os.environ.get("LHS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    url = Settings(database_url=database).database_url
    shape = dataset.SMOKE if args.smoke else dataset.FULL
    say(f"loading {shape}")
    data = asyncio.run(dataset.load(url, shape))
    env = {
        "LHS_DATABASE_URL": url,
        "LHS_RATE_LIMIT": RATE_LIMIT,
        "LHS_REDIS_URL": redis_url,
        "LHS_RATE_LIMIT_KEY_PREFIX": "lhs-bench-instances",
    }
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "LHS_BENCH_DATABASE_URL=... python -m bench instances " + " ".join(argv),
        "machine": report.machine(),
        "load_before": report.load_average(),
        "connections": args.connections,
        "seconds": args.seconds,
        "shape": vars(shape),
        "mix": [f"{m} {p}" for m, p, _ in mix(data)],
        "rounds": [],
    }
    for number in range(1, args.rounds + 1):
        say(f"round {number} of {args.rounds}")
        results["rounds"].append({name: measure(name, data, env, args) for name in ("a", "b")})
    a = round(statistics.median(r["a"]["rps"] for r in results["rounds"]), 1)
    b = round(statistics.median(r["b"]["rps"] for r in results["rounds"]), 1)
    results |= {
        "load_after": report.load_average(),
        "a_median_rps": a,
        "b_median_rps": b,
        "ratio": round(b / a, 3) if a else None,
        "per_round_ratios": [
            round(r["b"]["rps"] / r["a"]["rps"], 3) if r["a"]["rps"] else None
            for r in results["rounds"]
        ],
        "target": TARGET,
        "errors": sum(r[n]["errors"] for r in results["rounds"] for n in ("a", "b")),
    }
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    if not args.smoke:
        (out / "instances.json").write_text(json.dumps(results, indent=2) + "\n")
        (out / "instances.md").write_text(markdown(results))
    print(markdown(results))
    return 1 if results["errors"] else 0


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Two instances against one two-worker instance",
        "",
        f"{results['date']}, {results['machine']['cpu']} x {results['machine']['nproc']}; "
        f"load average before "
        f"{results['load_before']}, after {results['load_after']}.",
        "",
        f"Command: `{results['command'].strip()}`",
        "",
        f"{results['connections']} connections, {results['seconds']} s per run, the mix of "
        f"{len(results['mix'])} requests in turn (creates, analyses, pages, gets); PostgreSQL "
        "and Redis on the same machine.",
        "",
        "| round | (a) 1 instance x 2 workers, req/s | (b) 2 instances x 1 worker, req/s | b/a |",
        "|---|---|---|---|",
    ]
    for number, r in enumerate(results["rounds"], 1):
        ratio = results["per_round_ratios"][number - 1]
        lines.append(f"| {number} | {r['a']['rps']} | {r['b']['rps']} | {ratio} |")
    lines += [
        f"| median | {results['a_median_rps']} | {results['b_median_rps']} | "
        f"**{results['ratio']}** (target >= {results['target']}) |",
        "",
        f"Errors (non-2xx, timeouts): {results['errors']}.",
        "",
    ]
    return "\n".join(lines)
