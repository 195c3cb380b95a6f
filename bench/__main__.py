"""The benchmark: ``make bench`` (full) or ``make bench-smoke`` (CI, a few seconds).

    python -m bench [--smoke] [--seconds 5] [--workers 1,2] [--connections 32] [--only NAME]

Starts the real service under uvicorn on 127.0.0.1 (1 and 2 workers, uvloop, httptools),
loads a generated data set in bulk, drives each request from another process (wrk, or the
Python generator when wrk is missing) for a bounded time, and measures the reference apps on
the same data with the same flags. SQLite always; PostgreSQL too when LHS_BENCH_DATABASE_URL
names a scratch database (its schema is dropped and rebuilt). Writes bench/results/latest.json
and latest.md, and the README's "Performance" table.
"""

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from app.config import Settings
from bench import dataset, load, overload, queries, report, scenarios

log = logging.getLogger("bench")
RESULTS = Path(__file__).with_name("results")
RATE_LIMIT = "100000000/minute"  # the limiter is measured as part of the path, never hit


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny data, SQLite, 1 worker")
    parser.add_argument("--seconds", type=float, default=5.0, help="per request measured")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", default="1,2", help="comma-separated")
    parser.add_argument("--overload-seconds", type=float, default=10.0)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="measure only this service scenario (repeatable; e.g. asset_create)",
    )
    parser.add_argument("--no-references", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    return parser.parse_args()


async def _postgres_version(url: str) -> str:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        return str(await connection.fetchval("SHOW server_version")).split()[0]
    finally:
        await connection.close()


def _database(
    title: str, url: str, args: argparse.Namespace, shape: dataset.Shape, *, postgres: bool
) -> dict[str, Any]:
    log.info("%s: loading %s", title, shape)
    data = asyncio.run(dataset.load(url, shape))
    # Logs as deployed (INFO: an access line per request), into the server's log file.
    env = {"LHS_DATABASE_URL": url, "LHS_RATE_LIMIT": RATE_LIMIT}
    settings = scenarios.Settings(
        seconds=args.seconds,
        warmup_seconds=args.warmup,
        connections=args.connections,
        heavy_seconds=0.0 if args.smoke else 15.0,
        drain=not args.smoke,  # 4 connections for 1 s leave nothing behind
        only=frozenset(args.only),
    )
    workers = [int(w) for w in args.workers.split(",")]
    out: dict[str, Any] = {"title": title, "shape": vars(shape), "workers": {}}
    for count in workers:
        log.info("%s, %d worker(s): the service", title, count)
        service = scenarios.run_service(
            data,
            env=env,
            workers=count,
            settings=settings,
            probes=count == max(workers) and not args.smoke and not args.only,
        )
        references: dict[str, Any] = {}
        if not args.no_references:
            log.info("%s, %d worker(s): the references", title, count)
            references = scenarios.run_references(
                data, database_url=url, workers=count, settings=settings
            )
        out["workers"][str(count)] = {"service": service, "references": references}
    out["queries"] = asyncio.run(queries.count(url, data))
    log.info("queries per request: %s", out["queries"])
    if postgres and not args.smoke and args.overload_seconds > 0:
        log.info("%s: overload, %d connections", title, overload.CONNECTIONS)
        out["overload"] = overload.run(
            data, env=env, database_url=url, seconds=args.overload_seconds
        )
    return out


def _failures(results: dict[str, Any]) -> list[str]:
    """What the smoke run refuses: a request that failed or was never served."""
    problems = []
    for db in results["databases"].values():
        for per_workers in db["workers"].values():
            runs = {**per_workers["service"]["scenarios"], **per_workers["references"]}
            runs |= per_workers["service"].get("probes", {})
            for name, result in runs.items():
                if result.get("available") is False:
                    continue
                if result["errors"] or not result["requests"]:
                    problems.append(
                        f"{name}: {result['requests']} served, {result['errors']} errors"
                    )
    return problems


def main() -> int:
    if sys.argv[1:2] == ["national"]:
        from bench import national  # its own arguments

        return national.main(sys.argv[2:])
    if sys.argv[1:2] == ["instances"]:  # its own command: two instances against one
        from bench import instances

        return instances.main(sys.argv[2:])
    args = _arguments()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.smoke:
        args.seconds, args.warmup, args.connections, args.workers = 1.0, 0.0, 4, "1"
        args.no_readme = True
    shape = dataset.SMOKE if args.smoke else dataset.FULL
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make bench-smoke" if args.smoke else "make bench",
        "arguments": sys.argv[1:],
        "machine": report.machine(),
        "load_before": report.load_average(),
        "tool": load.tool(),
        "connections": args.connections,
        "seconds": args.seconds,
        "databases": {},
    }
    if results["tool"] != "wrk":
        log.warning("wrk is not installed: using the Python load generator (slower, less exact)")
    postgres_url = os.environ.get("LHS_BENCH_DATABASE_URL")
    if postgres_url and not args.smoke:
        url = Settings(database_url=postgres_url).database_url
        title = f"PostgreSQL {asyncio.run(_postgres_version(url))}"
        results["databases"]["postgresql"] = _database(title, url, args, shape, postgres=True)
    elif not args.smoke:
        log.warning("PostgreSQL skipped: set LHS_BENCH_DATABASE_URL to a scratch database")
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="lhs-bench-") as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
            results["databases"]["sqlite"] = _database("SQLite", url, args, shape, postgres=False)
    results["load_after"] = report.load_average()
    out = args.out if not args.smoke else Path(tempfile.mkdtemp(prefix="lhs-bench-smoke-"))
    table = report.write(results, out, update_readme=not args.no_readme)
    print(table.read_text())
    if args.smoke:
        problems = _failures(results)
        if problems:
            print("bench smoke FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        print(f"bench smoke passed (results in {out})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
