"""The national benchmark: ``make bench-national`` (about 15 minutes) or ``--smoke`` (seconds).

    python -m bench national [--scale 1.0] [--curve] [--smoke] [--seconds 5]

On PostgreSQL (LHS_BENCH_DATABASE_URL names a scratch database, e.g. bench_national; the run
also makes and drops ``<name>_copy`` and ``<name>_curve`` beside it):

1. loads England's shape (bench/national_data.py) through the service's own paths over HTTP
   into a real uvicorn (the imports, returns included, and the questionnaire API's
   self-assessments and moderation), sampling its resident memory, and the same rows by COPY
   (the floor), each kind timed apart;
2. measures the hot requests on it at 2 connections (bench/national_measure.py), the first
   analysis after a change, the national views and the global CSV export when the server has
   them, and records every hot request's plans (auto_explain);
3. with ``--curve``, the same reads at 1/16 and 1/4 of the ICBs (loaded by COPY) beside the
   full set: the growth curve.

``--smoke`` runs step 1's import and step 2's reads on a tiny shape (SQLite unless a URL is
given), so that the harness cannot rot. Results go to bench/results/national.json and .md.
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.config import Settings
from bench import load, report
from bench import national_data as nd
from bench import national_load as nl
from bench import national_measure as nm
from bench import national_server as ns

log = logging.getLogger("bench.national")
RESULTS = Path(__file__).with_name("results")
PORT = 18100  # this harness's servers: 18100 the loaded set, 18101 the plans, 18102 the curve
CURVE = (1 / 16, 1 / 4)


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench national", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="share of England's 42 ICBs")
    parser.add_argument("--curve", action="store_true", help="also at 1/16 and 1/4 (by COPY)")
    parser.add_argument("--smoke", action="store_true", help="a tiny shape, a few seconds")
    parser.add_argument("--seconds", type=float, default=5.0, help="per request measured")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--reads-only",
        action="store_true",
        help="the database is loaded already: ANALYZE it, then measure the reads and plans again"
        " (added to national.json as reads_analyzed)",
    )
    parser.add_argument(
        "--copy-load",
        action="store_true",
        help="with --reads-only: first load the database by COPY (minutes, not the import's"
        " half hour), for re-measuring the reads after a change to the read path",
    )
    return parser.parse_args(argv)


def _database(url: str, suffix: str) -> tuple[str, str]:
    """A sibling scratch database (created empty when missing): its URL and name."""
    base, name = url.rsplit("/", 1)
    sibling = f"{name}_{suffix}"
    subprocess.run(  # noqa: S603 - a scratch database of this harness's own name
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", sibling],  # noqa: S607 - PATH's
        capture_output=True,
    )
    return f"{base}/{sibling}", sibling


def _dropdb(name: str) -> None:
    subprocess.run(  # noqa: S603
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", name],  # noqa: S607
        capture_output=True,
    )


def _curve_point(url: str, scale: float, seconds: float) -> dict[str, Any]:
    key = ns.fresh(url)
    icbs = nd.generate(scale)
    floor = nl.copy_floor(url, icbs)
    nm.refresh_benchmarks(url)
    target = nm.Target(url, key)
    with ns.serve(url, port=PORT + 2) as server:
        reads = nm.scenarios(server.base, server.pid, target, seconds=seconds, national=False)
    return {"scale": scale, "data": target.sizes, "copy_seconds": floor["wall_seconds"]} | {
        "reads": reads
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    url = os.environ.get("LHS_BENCH_DATABASE_URL")
    smoke_dir = None
    if args.smoke and not url:
        smoke_dir = tempfile.mkdtemp(prefix="lhs-national-smoke-")
        url = f"sqlite+aiosqlite:///{smoke_dir}/national.db"
    if not url:
        raise SystemExit("set LHS_BENCH_DATABASE_URL to a scratch PostgreSQL database")
    url = Settings(database_url=url).database_url
    postgres = url.startswith("postgresql")
    icbs = nd.generate(1 / 42, divisor=20) if args.smoke else nd.generate(args.scale)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench national " + " ".join(sys.argv[2:]),
        "machine": report.machine(),
        "load_before": report.load_average(),
        "tool": load.tool(),
        "shape": nd.totals(icbs),
    }
    log.info("national: %s", results["shape"])
    key = ns.fresh(url)
    moderator = ns.mint_key(url)  # another credential: an answer's author never moderates it
    if args.smoke:  # one single-worker server for both: seconds, not a measurement
        with ns.serve(url, port=PORT + 50, workers=1) as server:
            results["import"] = nl.import_over_http(server.base, key, server.pid, icbs, moderator)
            target = nm.Target(url, key)
            results["data"] = target.sizes
            results["reads"] = nm.scenarios(
                server.base,
                server.pid,
                target,
                seconds=args.seconds,
                national=True,
                cold_rounds=2,
                warmup_rounds=0,
            )
        results["load_after"] = report.load_average()
        return results
    with ns.serve(url, port=PORT) as server:
        log.info("importing over HTTP")
        results["import"] = nl.import_over_http(server.base, key, server.pid, icbs, moderator)
        log.info("import: %s", results["import"])
    if postgres:
        results["benchmark_snapshot_seconds"] = nm.refresh_benchmarks(url)
    target = nm.Target(url, key)
    results["data"] = target.sizes
    # A new server: the reads start with the caches empty, as after a deployment.
    with ns.serve(url, port=PORT) as server:
        log.info("reads")
        results["reads"] = nm.scenarios(
            server.base, server.pid, target, seconds=args.seconds, national=True
        )
    with ns.serve(url, port=PORT + 2, workers=1) as server:
        results["reads"]["new_worker_ms"] = nm.new_worker(server.base, target)
    if postgres:
        results |= _postgres_only(url, icbs, target, args)
        # How many times the floor's time the service's import takes (1.0 would be the floor).
        results["import_over_copy"] = round(
            results["import"]["wall_seconds"] / max(results["copy"]["wall_seconds"], 0.1), 1
        )
        results["import_over_copy_by_kind"] = _ratios(results["import"], results["copy"])
    results["load_after"] = report.load_average()
    return results


def _ratios(imported: dict[str, Any], copied: dict[str, Any]) -> dict[str, float]:
    """How many times the floor's time each group takes over HTTP: the files' records, the
    returns, the self-assessments (with their moderation)."""
    spent, floor = imported["seconds_by_kind"], copied["seconds_by_kind"]
    over_http = {
        "records": sum(spent[k] for k in nl.KINDS),
        "returns": spent["returns"],
        "self_assessments": spent["self_assessments"] + spent["moderation"],
    }
    return {k: round(v / max(floor[k], 0.01), 1) for k, v in over_http.items()}


def _plans(url: str, target: nm.Target, out: Path) -> dict[str, list[str]]:
    """Every statement of each hot request EXPLAINed by auto_explain on a server of its own,
    written to national-plans.md; the tables each reads whole."""
    database = url.rsplit("/", 1)[1]
    nm.explain_on(database)
    try:
        with ns.serve(url, port=PORT + 1) as server:
            plans = nm.capture_plans(server.base, target, database)
    finally:
        nm.explain_off(database)
    (out / "national-plans.md").write_text(nm.plans_markdown(plans))
    return nm.seq_scans(plans)


def _postgres_only(
    url: str, icbs: list[nd.Icb], target: nm.Target, args: argparse.Namespace
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    log.info("plans")
    out["seq_scans"] = _plans(url, target, args.out)
    log.info("COPY floor")
    copy_url, copy_name = _database(url, "copy")
    try:
        ns.fresh(copy_url)
        out["copy"] = nl.copy_floor(copy_url, icbs)
    finally:
        _dropdb(copy_name)
    if args.curve:
        curve_url, curve_name = _database(url, "curve")
        try:
            out["curve"] = [_curve_point(curve_url, s, args.seconds) for s in CURVE]
        finally:
            _dropdb(curve_name)
    return out


def reads_again(args: argparse.Namespace) -> int:
    """The reads and plans of a database loaded by an earlier run, after ANALYZE (a fresh
    import leaves the planner's statistics behind until autovacuum's next pass)."""
    url = Settings(database_url=os.environ["LHS_BENCH_DATABASE_URL"]).database_url
    database = url.rsplit("/", 1)[1]
    if args.copy_load:
        ns.fresh(url)
        copied = nl.copy_floor(url, nd.generate(args.scale))
        log.info("COPY load: %s", copied)
        nm.refresh_benchmarks(url)
    nm.analyze(database)
    target = nm.Target(url, ns.mint_key(url))
    with ns.serve(url, port=PORT) as server:
        reads = nm.scenarios(server.base, server.pid, target, seconds=args.seconds, national=True)
    with ns.serve(url, port=PORT + 2, workers=1) as server:
        reads["new_worker_ms"] = nm.new_worker(server.base, target)
    seq_scans = _plans(url, target, args.out)
    path = args.out / "national.json"
    results = json.loads(path.read_text())
    results["reads_analyzed"] = reads | {
        "data": target.sizes,
        "machine": report.machine(),
        "load_average": report.load_average(),
        "loaded_by": "COPY" if args.copy_load else "the earlier run's import",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    results["seq_scans_analyzed"] = seq_scans
    if args.curve:  # the smaller scales beside this one, measured in the same conditions
        curve_url, curve_name = _database(url, "curve")
        try:
            points = [_curve_point(curve_url, s, args.seconds) for s in CURVE]
        finally:
            _dropdb(curve_name)
        results["curve_again"] = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average": report.load_average(),
            "points": points,
        }
    from bench import national_report

    national_report.write(results, args.out)
    return 0


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.reads_only:
        return reads_again(args)
    began = time.monotonic()
    results = run(args)
    results["total_seconds"] = round(time.monotonic() - began)
    if args.smoke:
        problems = _smoke_failures(results)
        print(json.dumps(results, indent=2, default=str))
        if problems:
            print("national smoke FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        print("national smoke passed", file=sys.stderr)
        return 0
    from bench import national_report

    national_report.write(results, args.out)
    return 0


def _smoke_failures(results: dict[str, Any]) -> list[str]:
    problems = []
    shape, created = results["shape"], results["import"]["rows_created"]
    if any(
        created[kind] != shape[kind]
        for kind in (
            "assets",
            "activities",
            "return_scores",
            "self_assessments",
            "self_assessment_answers",
            "moderated_answers",
        )
    ):
        problems.append(f"import created {created}, the shape has {shape}")
    for name, read in results["reads"].items():
        if read.get("available") is False:
            continue
        if read.get("errors") or (read.get("requests") == 0):
            problems.append(f"{name}: {read}")
    return problems
