"""Gap-analysis timings, run by hand (``make bench``), never in CI.

Seeds a database (SQLite by default; LHS_BENCH_DATABASE_URL for PostgreSQL) with
  * one organisation with 500 assets and 200 activities, and
  * an ICS of 200 members with 100 assets each,
then times the real app in-process (httpx over ASGI, so server time without a network) and
reports each figure beside a reference measured in the same run: a GET of one organisation.
Targets: under 20 ms for the organisation and under 1 s for the system view.
"""

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from alembic import command
from alembic.config import Config
from sqlalchemy import insert

from app.config import PROJECT_ROOT, Settings
from app.db import utcnow
from app.main import create_app
from app.models import Activity, Asset, Organisation
from app.reference.service import shipped_models

KEYS = [(c.key, c.area.value) for c in shipped_models()[0].capabilities]


def migrate(url: str, *, up: bool = True) -> None:
    """Start from an empty schema (the database should be a scratch one), and leave none."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.downgrade(config, "base")
    if up:
        command.upgrade(config, "head")


def organisation(name: str, parent: uuid.UUID | None = None) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": uuid.uuid4(),
        "name": name,
        "organisation_type": "trust" if parent else "ics",
        "parent_id": parent,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }


def assets(owner: uuid.UUID, count: int) -> list[dict[str, Any]]:
    now = utcnow()
    rows = []
    for i in range(count):
        key, area = KEYS[i % len(KEYS)]
        rows.append(
            {
                "id": uuid.uuid4(),
                "organisation_id": owner,
                "area": area,
                "capability_key": key if i % 7 else None,
                "name": f"Asset {i}",
                "maturity": i % 5,
                "confidence": ("self_assessed", "peer_reviewed", "evidenced")[i % 3],
                "evidence": [],
                "shared_with_members": i % 50 == 0,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    return rows


def activities(owner: uuid.UUID, count: int) -> list[dict[str, Any]]:
    now = utcnow()
    statuses = ("planned", "active", "completed", "stopped")
    return [
        {
            "id": uuid.uuid4(),
            "organisation_id": owner,
            "area": KEYS[i % len(KEYS)][1],
            "capability_key": KEYS[i % len(KEYS)][0],
            "title": f"Activity {i}",
            "activity_type": "improvement_project",
            "status": statuses[i % 4],
            "goal": "A goal" if i % 3 == 0 else None,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for i in range(count)
    ]


async def timed(call: Callable[[], Awaitable[httpx.Response]], runs: int) -> list[float]:
    await call()  # warm up caches and the pool
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        response = await call()
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    return samples


def report(name: str, samples: list[float], reference: float, target_ms: float | None) -> None:
    median = statistics.median(samples)
    p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
    verdict = "" if target_ms is None else ("  OK" if median < target_ms else "  OVER TARGET")
    target = f"  target < {target_ms:g} ms" if target_ms else ""
    print(
        f"{name:<48} median {median:8.2f} ms  p95 {p95:8.2f} ms  "
        f"{median / reference:7.1f}x reference{target}{verdict}"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = os.environ.get("LHS_BENCH_DATABASE_URL") or (
            f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        )
        url = Settings(database_url=url).database_url
        await asyncio.to_thread(migrate, url)
        app = create_app(Settings(database_url=url, log_level="WARNING"))
        async with app.router.lifespan_context(app):
            single = organisation("Standalone Trust")
            ics = organisation("Benchmark ICS")
            members = [organisation(f"Member {i}", ics["id"]) for i in range(200)]
            async with app.state.engine.begin() as connection:
                await connection.execute(insert(Organisation), [single, ics, *members])
                await connection.execute(insert(Asset), assets(single["id"], 500))
                await connection.execute(insert(Activity), activities(single["id"], 200))
                for member in members:
                    await connection.execute(insert(Asset), assets(member["id"], 100))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://localhost"
            ) as client:
                reference = await timed(
                    lambda: client.get(f"/v1/organisations/{single['id']}"), 200
                )
                ref = statistics.median(reference)
                print(f"database: {app.state.engine.dialect.name}")
                report("reference: GET one organisation", reference, ref, None)
                report(
                    "gap analysis: 1 organisation, 500 assets, 200 acts",
                    await timed(
                        lambda: client.get(f"/v1/organisations/{single['id']}/gap-analysis"), 50
                    ),
                    ref,
                    20,
                )
                report(
                    "gap analysis: member of a 200 x 100 ICS",
                    await timed(
                        lambda: client.get(f"/v1/organisations/{members[0]['id']}/gap-analysis"), 20
                    ),
                    ref,
                    None,
                )
                report(
                    "system view: ICS of 200 members x 100 assets",
                    await timed(
                        lambda: client.get(
                            f"/v1/organisations/{ics['id']}/gap-analysis?scope=system"
                        ),
                        10,
                    ),
                    ref,
                    1000,
                )
        await asyncio.to_thread(migrate, url, up=False)


if __name__ == "__main__":
    asyncio.run(main())
