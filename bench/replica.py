"""What reading from a replica costs and gains: ``python -m bench.replica``.

Starts a PostgreSQL primary and a streaming standby of its own (as the replica tests do, from
the system's PostgreSQL 15 binaries, on two free ports of 5440-5449), loads an ICS through the
benchmark's own loader, and drives two copies of the app in process (no network: the figures
are the app's and the databases'), one with LHS_DATABASE_REPLICA_URL and one without:

- replication lag: after each create through the API, how long until the standby has replayed
  the write's position (polled every millisecond);
- the writer's own read right after its write (a member analysis): where it was served and
  how long it took, against the same read with no replica;
- another caller's member analysis, cold (caches emptied first) and warm, and the system view
  of the ICS, with and without the replica.

Both databases run on this machine's two cores, beside the app: the replica adds work here
rather than taking it away. The figure that carries to a deployment is the overhead of the
routing and the lag, not a speed-up.
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
from fastapi import FastAPI

from app import caches
from app.config import Settings
from app.http.replica import READS
from app.main import create_app
from bench.dataset import Shape, admin_key, load
from tests import replica_cluster

POSITION = "SELECT (pg_{}_lsn() - '0/0'::pg_lsn)::bigint"


def _ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"p50 {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


@asynccontextmanager
async def _client(settings: Settings, key: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        if key is None:
            key = await admin_key(app.state.sessions, "replica bench")
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers=headers
        ) as http:
            yield http


async def _replayed(standby: asyncpg.Connection, target: int) -> None:
    # Polled: the standby says nothing when it replays.
    while await standby.fetchval(POSITION.format("last_wal_replay")) < target:  # noqa: ASYNC110
        await asyncio.sleep(0.001)


async def _timed(client: httpx.AsyncClient, url: str) -> float:
    started = time.perf_counter()
    response = await client.get(url)
    assert response.status_code < 300, response.text
    return time.perf_counter() - started


def _served() -> dict[str, float]:
    return {
        f"{sample.labels['served_by']}/{sample.labels['reason']}": sample.value
        for metric in READS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


async def run(members: int, rounds: int) -> list[str]:
    lines: list[str] = []
    with replica_cluster.primary_and_standby() as (primary, standby):
        dataset = await load(
            Settings(database_url=primary.url()).database_url,
            Shape(members=members, small_members=3, assets=100, activities=40),
        )
        primary_sql = await asyncpg.connect(primary.url())
        standby_sql = await asyncpg.connect(standby.url())
        plain = Settings(
            database_url=primary.url(), log_level="WARNING", rate_limit="1000000/minute"
        )
        routed = plain.model_copy(
            update={"database_replica_url": Settings(database_url=standby.url()).database_url}
        )
        member = f"/v1/organisations/{dataset.member}/gap-analysis"
        system = f"/v1/organisations/{dataset.ics}/gap-analysis?scope=system"
        writes = f"/v1/organisations/{dataset.standalone}/assets"
        own = f"/v1/organisations/{dataset.standalone}/gap-analysis"
        try:
            await _replayed(standby_sql, await primary_sql.fetchval(POSITION.format("current_wal")))
            lag: list[float] = []
            own_times: dict[str, list[float]] = {"replica": [], "primary only": []}
            for label, settings in (("replica", routed), ("primary only", plain)):
                async with _client(settings, dataset.key) as writer:
                    for i in range(rounds):
                        created = await writer.post(
                            writes, json={"area": "data", "name": f"w{i}", "maturity": 2}
                        )
                        assert created.status_code == 201, created.text
                        if label == "replica":
                            target = await primary_sql.fetchval(POSITION.format("current_wal"))
                            started = time.perf_counter()
                            await _replayed(standby_sql, target)
                            lag.append(time.perf_counter() - started)
                            created = await writer.post(
                                writes, json={"area": "data", "name": f"x{i}", "maturity": 2}
                            )
                        own_times[label].append(await _timed(writer, own))
            before = _served()
            lines.append(f"- replication lag after a create, {rounds} writes: {_ms(lag)}")
            for label, values in own_times.items():
                lines.append(
                    f"- the writer's analysis right after its create, {label}: {_ms(values)}"
                )
            # The two apps take turns, so the machine's load falls on both alike.
            reads: dict[str, dict[str, list[float]]] = {
                label: {"cold": [], "warm": [], "system": []}
                for label in ("replica", "primary only")
            }
            async with _client(routed) as via_replica, _client(plain) as alone:
                readers = {"replica": via_replica, "primary only": alone}
                for i in range(rounds):
                    for label, reader in readers.items():
                        caches.clear_all()
                        reads[label]["cold"].append(await _timed(reader, member))
                        reads[label]["warm"].append(await _timed(reader, member))
                        if i % 10 == 0:
                            caches.clear_all()
                            reads[label]["system"].append(await _timed(reader, system))
            for kind in ("cold", "warm", "system"):
                on_replica, on_primary = reads["replica"][kind], reads["primary only"][kind]
                ratio = statistics.median(on_replica) / statistics.median(on_primary)
                name = {"cold": "member analysis, cold", "warm": "member analysis, warm",
                        "system": "system view of the ICS, cold"}[kind]  # fmt: skip
                lines.append(
                    f"- {name}: replica {_ms(on_replica)}; primary only {_ms(on_primary)}; "
                    f"ratio {ratio:.2f}"
                )
            after = _served()
            lines.append(
                "- where the writer's reads were served (lhs_replica_reads_total): "
                + ", ".join(f"{k} {int(v)}" for k, v in sorted(before.items()))
            )
            lines.append(
                "- where the other caller's reads were served: "
                + ", ".join(f"{k} {int(after.get(k, 0) - before.get(k, 0))}" for k in sorted(after))
            )
        finally:
            await primary_sql.close()
            await standby_sql.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with open("/proc/loadavg") as loadavg:
        load_before = loadavg.read().split()[:3]
    lines = asyncio.run(run(args.members, args.rounds))
    with open("/proc/loadavg") as loadavg:
        load_after = loadavg.read().split()[:3]
    print(f"members={args.members} rounds={args.rounds} load average {load_before} -> {load_after}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
