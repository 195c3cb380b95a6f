"""The national views at national scale, on PostgreSQL: ``GET /v1/systems``,
``GET /v1/capabilities/coverage`` and ``GET /v1/assets?format=csv`` for a global caller, over
about 8,000 organisations, 300,000 assets and 150,000 activities.

    python -m bench.national_views load postgresql://postgres@127.0.0.1:5432/bench_api
    python -m bench.national_views measure postgresql://postgres@127.0.0.1:5432/bench_api [port]

``load`` builds a fresh schema and fills it: organisations in one multi-row INSERT, records by
COPY (the bench's own generators, bench.dataset, for each row's values). ``measure`` starts
one uvicorn worker on ``port`` (default 18210) and times each view cold (the first answer
after a change, made through the API) and warm (answers while nothing changes), as p50 of
several runs, then streams the export of every asset while sampling the server's memory.
"""

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import insert

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_sessions
from app.models import Organisation
from app.reference import gate as reference_gate
from bench.dataset import _activities, _assets, _Clock, _organisation, admin_key, migrate_fresh
from bench.memory import export_growth
from bench.server import stop, uvicorn_command, wait_until_ready

RESULTS = PROJECT_ROOT / "bench" / "results" / "national_views.json"
# Records per organisation by kind: (assets, activities). Practices 10-30 records, trusts
# 100-300, as the national programme's shape.
RECORDS = {
    "icb": (300, 150),
    "acute_trust": (200, 100),
    "primary_care_network": (40, 20),
    "gp_practice": (28, 12),
    "local_authority": (100, 50),
    "voluntary_sector": (20, 10),
}


def _forest(clock: _Clock, rng: random.Random) -> list[dict[str, Any]]:
    """42 ICBs of skewed size (a few of 300+ members, most of 100-200): 210 trusts, 1,250
    PCNs with 6,300 practices below them, 150 local authorities, 250 voluntary bodies."""
    icbs = [_organisation(clock, f"ICB {i:02d}", "icb", None) for i in range(42)]
    weights = [3.0 if i < 4 else rng.uniform(0.7, 1.3) for i in range(42)]

    def pick() -> dict[str, Any]:
        return rng.choices(icbs, weights)[0]

    rows = list(icbs)
    for i in range(210):
        rows.append(_organisation(clock, f"Trust {i}", "acute_trust", pick()["id"]))
    for i in range(150):
        rows.append(_organisation(clock, f"Council {i}", "local_authority", pick()["id"]))
    for i in range(250):
        rows.append(_organisation(clock, f"Charity {i}", "voluntary_sector", pick()["id"]))
    for i in range(1250):
        pcn = _organisation(clock, f"PCN {i}", "primary_care_network", pick()["id"])
        rows.append(pcn)
        for j in range(5 + (i % 5 == 0) * 3 - (i % 5 == 1) * 2 + (i % 10 == 3)):
            rows.append(_organisation(clock, f"Practice {i}.{j}", "gp_practice", pcn["id"]))
    for row in rows:
        row |= {
            "is_demo": False,
            "benchmark_opt_out": False,
            "region": f"Region {hash(row['parent_id']) % 7}",
        }
    return rows


async def load(url: str) -> dict[str, Any]:
    began = time.monotonic()
    url = _asyncpg(url)
    await asyncio.to_thread(migrate_fresh, url)
    settings = Settings(database_url=url, log_level="WARNING")
    engine = make_engine(settings)
    sessions = make_sessions(engine, settings)
    clock, rng = _Clock(), random.Random(21)
    organisations = _forest(clock, rng)
    try:
        async with sessions.write() as session:
            await reference_gate.install_shipped(session)
        async with engine.begin() as connection:
            for start in range(0, len(organisations), 2000):
                await connection.execute(insert(Organisation), organisations[start : start + 2000])
    finally:
        await sessions.dispose()
        await engine.dispose()
    assets = activities = 0
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        for row in organisations:
            count, doing = RECORDS[row["organisation_type"]]
            made = _assets(clock, row["id"], count)
            done = _activities(clock, row["id"], doing)
            for record in (*made, *done):
                record["evidence"] = json.dumps(record.get("evidence", []))
            await _copy(connection, "asset", made)
            await _copy(connection, "activity", done)
            assets += len(made)
            activities += len(done)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return {
        "organisations": len(organisations),
        "assets": assets,
        "activities": activities,
        "seconds": round(time.monotonic() - began, 1),
    }


async def _mint(url: str) -> str:
    """A global admin's key for the load generator."""
    settings = Settings(database_url=_asyncpg(url), log_level="WARNING")
    engine = make_engine(settings)
    sessions = make_sessions(engine, settings)
    try:
        key = await admin_key(sessions, "national bench")
    finally:
        await sessions.dispose()
        await engine.dispose()
    return key


def _asyncpg(url: str) -> str:
    """The URL as SQLAlchemy's async engine takes it (migrate_fresh does not normalise)."""
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _copy(connection: asyncpg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        columns = list(rows[0])
        records = [tuple(row[c] for c in columns) for row in rows]
        await connection.copy_records_to_table(table, records=records, columns=columns)


def _timed(http: httpx.Client, path: str) -> float:
    began = time.perf_counter()
    answer = http.get(path)
    elapsed = time.perf_counter() - began
    answer.raise_for_status()
    return elapsed * 1000


def _change(http: httpx.Client, organisation_id: str) -> None:
    made = http.post(
        f"/v1/organisations/{organisation_id}/assets",
        json={"area": "data", "name": "A change", "maturity": 2},
    )
    made.raise_for_status()


def measure(url: str, port: int, key: str, runs: int = 5, warm: int = 40) -> dict[str, Any]:
    env = os.environ | {
        "LHS_DATABASE_URL": url,
        "LHS_LOG_LEVEL": "WARNING",
        "LHS_EXPORT_TIMEOUT_SECONDS": "600",
    }
    log = Path(tempfile.gettempdir()) / f"bench-national-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            uvicorn_command("app.main:app", port, 1),
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base + "/_ping", process, log, 1)
        auth = f"Bearer {key}"
        found: dict[str, Any] = {"loadavg_before": Path("/proc/loadavg").read_text().strip()}
        with httpx.Client(base_url=base, headers={"Authorization": auth}, timeout=120) as http:
            icb = http.get("/v1/organisations", params={"organisationType": "icb", "limit": 1})
            practice = http.get(
                "/v1/organisations", params={"organisationType": "gp_practice", "limit": 1}
            )
            targets = {
                "practice": practice.json()["items"][0]["id"],
                "icb": icb.json()["items"][0]["id"],
            }
            views = {
                "systems": "/v1/systems",
                "coverage": "/v1/capabilities/coverage?groupBy=organisationType",
            }
            # The very first answers: nothing remembered in the process yet.
            found["first_ms"] = {name: round(_timed(http, path), 1) for name, path in views.items()}
            for name, path in views.items():
                found[name] = {"path": path}
                for where, target in targets.items():
                    cold = []
                    for _ in range(runs):
                        _change(http, target)
                        cold.append(_timed(http, path))
                    found[name][f"cold_after_{where}_change_ms"] = [round(v, 1) for v in cold]
                    found[name][f"cold_after_{where}_change_p50_ms"] = round(
                        statistics.median(cold), 1
                    )
                hot = [_timed(http, path) for _ in range(warm)]
                found[name]["warm_p50_ms"] = round(statistics.median(hot), 2)
                found[name]["warm_p90_ms"] = round(statistics.quantiles(hot, n=10)[-1], 2)
            page = [_timed(http, "/v1/assets?limit=50") for _ in range(warm)]
            found["assets_page"] = {
                "path": "/v1/assets?limit=50",
                "p50_ms": round(statistics.median(page), 2),
            }
        found["export"] = export_growth(base, process.pid, "/v1/assets?format=csv", auth)
        found["loadavg_after"] = Path("/proc/loadavg").read_text().strip()
        return found
    finally:
        stop(process)


def main(argv: list[str]) -> None:
    command, url = argv[0], argv[1]
    if command == "load":
        print(json.dumps(asyncio.run(load(url)), indent=2))
        return
    port = int(argv[2]) if len(argv) > 2 else 18210
    found = measure(url, port, asyncio.run(_mint(url)))
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
