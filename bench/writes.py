"""Writes against their floor (PostgreSQL):

    LHS_BENCH_DATABASE_URL=postgresql://…/scratch python -m bench.writes [--seconds 5]
        [--connections 32] [--workers 2] [--pool 20000]

The service's create, update (with If-Match) and delete of an asset, each against the write
floor (bench.references.writes: raw ASGI + asyncpg + orjson running the same transaction) in
the same run, and an idempotent create's replay (its Idempotency-Key already used) against a
GET of one asset. An update or a delete needs a record of its own at a known version: each
takes its targets from a pool of assets loaded for it (each requested once, by wrk).
Writes bench/results/writes.json and writes.md.
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from app.config import Settings
from app.db import make_engine
from app.models import Asset, AssetTag, Organisation
from bench import dataset, report, server
from bench.load import Request
from bench.references import ENV as REF_ENV
from bench.scenarios import NEW_ASSET, Scenario, _measure
from bench.scenarios import Settings as RunSettings

log = logging.getLogger("bench")
RESULTS = Path(__file__).with_name("results")
RENAME = json.dumps({"name": "Renamed by the benchmark"})
REPLAY_KEY = "bench-replay-0001"
WARMUP_SHARE = 0.2  # of each pool, kept apart for the warm-up run
POOLS = ("service_update", "service_delete", "floor_update", "floor_delete")
TARGETS = {
    "asset_create": "create_floor",
    "asset_update": "update_floor",
    "asset_delete": "delete_floor",
    "create_replay": "asset_get",
}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.writes", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool", type=int, default=20_000, help="assets per update/delete run")
    parser.add_argument("--small", action="store_true", help="the smoke data set, not the full")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    return parser.parse_args()


async def _pools(url: str, size: int) -> dict[str, list[uuid.UUID]]:
    """An organisation per pool with ``size`` assets (two tags each), version 1."""
    engine = make_engine(Settings(database_url=url, log_level="WARNING"))
    clock = dataset._Clock()
    out: dict[str, list[uuid.UUID]] = {}
    try:
        async with engine.begin() as connection:
            for name in POOLS:
                owner = dataset._organisation(clock, f"Pool {name}", "acute_trust", None)
                await connection.execute(insert(Organisation), [owner])
                assets = dataset._assets(clock, owner["id"], size)
                for start in range(0, size, 5_000):
                    chunk = assets[start : start + 5_000]
                    await connection.execute(insert(Asset), chunk)
                    tags = [{"asset_id": a["id"], "tag": t} for a in chunk for t in ("a", "b")]
                    await connection.execute(insert(AssetTag), tags)
                out[name] = [a["id"] for a in assets]
    finally:
        await engine.dispose()
    return out


def _target_files(
    directory: Path, name: str, ids: list[uuid.UUID], prefix: str
) -> tuple[Path, Path]:
    """Warm-up and measured targets: "path W/"1"" lines, disjoint."""
    split = int(len(ids) * WARMUP_SHARE)
    files = []
    for part, chunk in (("warm", ids[:split]), ("run", ids[split:])):
        path = directory / f"{name}-{part}.txt"
        path.write_text("".join(f'{prefix}/assets/{i} W/"1"\n' for i in chunk))
        files.append(path)
    return files[0], files[1]


def _scenarios(
    data: dataset.Dataset, pools: dict[str, list[uuid.UUID]], directory: Path
) -> tuple[list[tuple[Scenario, Path | None]], list[tuple[Scenario, Path | None]]]:
    """(scenario, warm-up targets) for the service and for the floor."""
    service: list[tuple[Scenario, Path | None]] = [
        (Scenario("asset_get", "get an asset", Request(f"/v1/assets/{data.asset}")), None)
    ]
    floor: list[tuple[Scenario, Path | None]] = [
        (Scenario("get_floor", "floor: the same asset", Request(f"/assets/{data.asset}")), None)
    ]
    for who, prefix, out in (("service", "/v1", service), ("floor", "", floor)):
        organisation = f"{prefix}/organisations/{data.standalone}/assets"
        create = Request(organisation, method="POST", body=NEW_ASSET, expect=201)
        name = "asset_create" if who == "service" else "create_floor"
        out.append((Scenario(name, f"{who}: create an asset", create), None))
        for kind, method, body, expect in (
            ("update", "PATCH", RENAME, 200),
            ("delete", "DELETE", "", 204),
        ):
            warm, run = _target_files(directory, f"{who}_{kind}", pools[f"{who}_{kind}"], prefix)
            request = Request("/", method=method, body=body, expect=expect, targets=run)
            name = f"asset_{kind}" if who == "service" else f"{kind}_floor"
            label = f"{who}: {kind} an asset (If-Match)"
            out.append((Scenario(name, label, request), warm))
    replay = Request(
        f"/v1/organisations/{data.standalone}/assets",
        method="POST",
        body=NEW_ASSET,
        expect=201,
        headers=(f"Idempotency-Key: {REPLAY_KEY}",),
    )
    service.append((Scenario("create_replay", "replay of an idempotent create", replay), None))
    return service, floor


def _run(
    target: str,
    scenarios: list[tuple[Scenario, Path | None]],
    *,
    env: dict[str, str],
    workers: int,
    settings: RunSettings,
    auth: str,
    ready: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    extra = ("--no-server-header",) if target == "app.main:app" else ()
    with server.serve(target, workers=workers, env=env, ready_path=ready, extra=extra) as running:
        for scenario, warm in scenarios:
            if settings.only and scenario.name not in settings.only:
                continue
            if scenario.name == "create_replay":  # the key's first use creates
                headers = {"Authorization": auth, "Idempotency-Key": REPLAY_KEY}
                first = httpx.post(
                    running.base + scenario.request.path,
                    content=scenario.request.body,
                    headers=headers | {"Content-Type": "application/json"},
                    timeout=30,
                )
                assert first.status_code == 201, first.text
            if warm is not None:
                # The warm-up runs over targets of its own; the measured run then needs none.
                scenario_warm = Scenario(
                    scenario.name,
                    scenario.label,
                    Request(
                        "/",
                        method=scenario.request.method,
                        body=scenario.request.body,
                        expect=scenario.request.expect,
                        targets=warm,
                    ),
                )
                list(_measure(running, [scenario_warm], settings, auth, settings.connections))
            measured = RunSettings(
                seconds=settings.seconds,
                warmup_seconds=0.0 if warm is not None else settings.warmup_seconds,
                connections=settings.connections,
                drain=settings.drain,
            )
            for done, result in _measure(running, [scenario], measured, auth, measured.connections):
                # Refusals (503 OVERLOADED) are answers too, but not the write: served only.
                served = result.rps * (result.requests - result.errors) / max(result.requests, 1)
                out[done.name] = {"label": done.label, **result.as_json(), "served_rps": served}
    return out


def _markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Writes against their floor (PostgreSQL)",
        "",
        f"`{results['command']}` — {results['date']}, {results['workers']} worker(s), "
        f"{results['connections']} connections, {results['seconds']} s each; load average "
        f"before {results['load_before']}, after {results['load_after']}.",
        "",
        "| request | served req/s | p50 ms | p99 ms | errors | reference | its req/s | ratio "
        "| target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    runs = results["service"] | results["floor"]
    for name, reference in TARGETS.items():
        mine, theirs = runs.get(name), runs.get(reference)
        if mine is None or theirs is None:
            continue
        target = "≥ 0.8" if name == "create_replay" else "≥ 0.5"
        lines.append(
            f"| {mine['label']} | {mine['served_rps']:,.0f} | {mine['p50_ms']} | "
            f"{mine['p99_ms']} | "
            f"{mine['errors']} | {theirs['label']} | {theirs['served_rps']:,.0f} | "
            f"**{results['ratios'][name]:.2f}** | {target} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    args = _arguments()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    raw_url = os.environ.get("LHS_BENCH_DATABASE_URL")
    if not raw_url:
        print("set LHS_BENCH_DATABASE_URL to a scratch PostgreSQL database", file=sys.stderr)
        return 2
    url = Settings(database_url=raw_url).database_url
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench.writes " + " ".join(sys.argv[1:]),
        "machine": report.machine(),
        "load_before": report.load_average(),
        "workers": args.workers,
        "connections": args.connections,
        "seconds": args.seconds,
    }
    shape = dataset.SMOKE if args.small else dataset.FULL
    log.info("loading %s and pools of %d", shape, args.pool)
    data = asyncio.run(dataset.load(url, shape))
    pools = asyncio.run(_pools(url, args.pool))
    settings = RunSettings(
        seconds=args.seconds,
        warmup_seconds=args.warmup,
        connections=args.connections,
        only=frozenset(args.only),
    )
    with tempfile.TemporaryDirectory(prefix="lhs-bench-writes-") as directory:
        service, floor = _scenarios(data, pools, Path(directory))
        env = {"LHS_DATABASE_URL": url, "LHS_RATE_LIMIT": "100000000/minute"}
        auth = f"Bearer {data.key}"
        log.info("the service")
        results["service"] = _run(
            "app.main:app",
            service,
            env=env,
            workers=args.workers,
            settings=settings,
            auth=auth,
            ready="/_ping",
        )
        log.info("the floor")
        results["floor"] = _run(
            "bench.references.writes:app",
            floor,
            env={REF_ENV: url},
            workers=args.workers,
            settings=settings,
            auth="",
            ready="/ping",
        )
    runs = results["service"] | results["floor"]
    results["ratios"] = {
        name: round(runs[name]["served_rps"] / runs[ref]["served_rps"], 3)
        for name, ref in TARGETS.items()
        if name in runs and ref in runs and runs[ref]["served_rps"]
    }
    results["load_after"] = report.load_average()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "writes.json").write_text(json.dumps(results, indent=2) + "\n")
    table = _markdown(results)
    (args.out / "writes.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
