"""Loading the national data set two ways: through the service's own import paths over HTTP
(as each ICB's programme team would: its organisations, then one sheet each of assets,
activities and plan items for all its members), and a floor that COPYs the same rows into
the same tables with the driver."""

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from app.audit.service import diff
from bench import national_data as nd
from bench.dataset import migrate_fresh
from bench.memory import resident_bytes

IMPORT_TIMEOUT = 600.0
CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}
KINDS = ("organisations", "assets", "activities", "plan_items")


class RssSampler:
    """The server's resident memory (all its processes), sampled until stopped."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every = pid, every
        self.before = self.peak = resident_bytes(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, resident_bytes(self.pid))
            time.sleep(self.every)

    @contextmanager
    def running(self) -> Iterator["RssSampler"]:
        self._thread.start()
        try:
            yield self
        finally:
            self._done.set()
            self._thread.join()
            self.after = resident_bytes(self.pid)

    def as_json(self) -> dict[str, float]:
        mb = 2**20
        return {
            "before_mb": round(self.before / mb, 1),
            "peak_mb": round(self.peak / mb, 1),
            "after_mb": round(self.after / mb, 1),
            "growth_mb": round((self.peak - self.before) / mb, 1),
        }


def _post(client: httpx.Client, path: str, body: bytes, headers: dict[str, str]) -> Any:
    answer = client.post(path, content=body, headers=headers)
    if answer.status_code >= 300:
        raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text[:2000]}")
    return answer.json()


def import_over_http(base: str, key: str, pid: int, icbs: list[nd.Icb]) -> dict[str, Any]:
    """Each ICB created, then its four files imported into it; the files are made before the
    clock starts so that only the service's work is timed."""
    files = [(icb, {kind: getattr(nd, f"{kind}_csv")(icb) for kind in KINDS}) for icb in icbs]
    seconds = dict.fromkeys(KINDS, 0.0)
    rows = dict.fromkeys(KINDS, 0)
    auth = {"Authorization": f"Bearer {key}"}
    sampler = RssSampler(pid)
    began = time.monotonic()
    with (
        httpx.Client(base_url=base, headers=auth, timeout=IMPORT_TIMEOUT) as client,
        sampler.running(),
    ):
        for icb, by_kind in files:
            root = icb.root
            body = {"name": root.name, "odsCode": root.code, "organisationType": str(root.kind)}
            made = _post(client, "/v1/organisations", json.dumps(body).encode(), JSON)
            for kind, payload in by_kind.items():
                start = time.monotonic()
                answer = _post(
                    client, f"/v1/organisations/{made['id']}/imports/{kind}", payload, CSV
                )
                seconds[kind] += time.monotonic() - start
                rows[kind] += int(answer.get("created", 0))
    wall = time.monotonic() - began
    return {
        "wall_seconds": round(wall, 1),
        "seconds_by_kind": {k: round(v, 1) for k, v in seconds.items()},
        "rows_created": rows,
        "rows_per_second": round(sum(rows.values()) / wall),
        "server_rss": sampler.as_json(),
    }


# ---- The floor: the same rows, COPYed ----


class _Rows:
    """Every table's rows for the COPY, and the audit events the service writes with them."""

    def __init__(self) -> None:
        self.tables: dict[str, list[tuple[Any, ...]]] = {
            name: []
            for name in (
                "organisation",
                "asset",
                "asset_tag",
                "activity",
                "activity_asset",
                "plan_item",
                "plan_item_asset",
                "audit_event",
            )
        }
        self.now = datetime.now(UTC) - timedelta(days=1)

    def tick(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now

    def audit(self, kind: str, record: uuid.UUID, org: uuid.UUID, values: dict[str, Any]) -> None:
        self.tables["audit_event"].append(
            (
                uuid.uuid4(),
                self.tick(),
                "bench",
                "api_key",
                None,
                "create",
                kind,
                str(record),
                org,
                json.dumps(diff({}, values)),
                None,
                1,
                None,
            )
        )


COLUMNS = {
    "organisation": [
        "id",
        "name",
        "ods_code",
        "organisation_type",
        "parent_id",
        "created_at",
        "updated_at",
        "version",
        "is_demo",
        "benchmark_opt_out",
    ],
    "asset": [
        "id",
        "organisation_id",
        "area",
        "capability_key",
        "name",
        "description",
        "maturity",
        "confidence",
        "evidence",
        "shared_with_members",
        "reviewed_by",
        "reviewed_at",
        "created_at",
        "updated_at",
        "version",
        "external_id",
    ],
    "asset_tag": ["asset_id", "tag"],
    "activity": [
        "id",
        "organisation_id",
        "area",
        "capability_key",
        "title",
        "activity_type",
        "status",
        "goal",
        "evidence",
        "created_at",
        "updated_at",
        "version",
        "external_id",
    ],
    "activity_asset": ["activity_id", "asset_id"],
    "plan_item": [
        "id",
        "organisation_id",
        "capability_key",
        "title",
        "status",
        "rag",
        "created_at",
        "updated_at",
        "version",
        "external_id",
    ],
    "plan_item_asset": ["plan_item_id", "asset_id"],
    "audit_event": [
        "id",
        "occurred_at",
        "actor",
        "actor_kind",
        "request_id",
        "action",
        "resource_type",
        "resource_id",
        "organisation_id",
        "changes",
        "position",
        "version",
        "parent_organisation_id",
    ],
}


def rows_of(icb: nd.Icb) -> _Rows:
    out = _Rows()
    t = out.tables
    codes: dict[str, uuid.UUID] = {}
    reviewed = datetime(2026, 1, 10, 9, tzinfo=UTC)
    for org in icb.organisations:
        oid = codes[org.code] = uuid.uuid4()
        at = out.tick()
        parent = codes[org.parent] if org.parent else None
        t["organisation"].append(
            (oid, org.name, org.code, str(org.kind), parent, at, at, 1, False, False)
        )
        out.audit(
            "organisation",
            oid,
            oid,
            {"name": org.name, "ods_code": org.code, "organisation_type": str(org.kind)},
        )
        assets: dict[str, uuid.UUID] = {}
        for a in nd.assets_of(org):
            aid = assets[a.external_id] = uuid.uuid4()
            at = out.tick()
            evidence = json.dumps([{"title": x, "url": u} for x, u in a.evidence])
            t["asset"].append(
                (
                    aid,
                    oid,
                    a.area,
                    a.key,
                    a.name,
                    a.description,
                    a.maturity,
                    a.confidence,
                    evidence,
                    a.shared,
                    a.reviewed_by,
                    reviewed if a.reviewed_by else None,
                    at,
                    at,
                    1,
                    a.external_id,
                )
            )
            t["asset_tag"].extend((aid, tag) for tag in a.tags)
            out.audit("asset", aid, oid, {"name": a.name, "area": a.area, "tags": list(a.tags)})
        for c in nd.activities_of(org):
            cid = uuid.uuid4()
            at = out.tick()
            t["activity"].append(
                (
                    cid,
                    oid,
                    c.area,
                    c.key,
                    c.title,
                    c.activity_type,
                    c.status,
                    c.goal,
                    "[]",
                    at,
                    at,
                    1,
                    c.external_id,
                )
            )
            t["activity_asset"].append((cid, assets[c.asset]))
            out.audit("activity", cid, oid, {"title": c.title, "status": c.status})
        for p in nd.plan_items_of(org):
            pid = uuid.uuid4()
            at = out.tick()
            t["plan_item"].append(
                (pid, oid, p.key, p.title, p.status, p.rag, at, at, 1, p.external_id)
            )
            t["plan_item_asset"].append((pid, assets[p.asset]))
            out.audit("plan_item", pid, oid, {"title": p.title, "status": p.status})
    return out


def prepare(url: str) -> None:
    """A fresh schema and the shipped reference model (what the service's import needs)."""
    migrate_fresh(url)


async def _copy(url: str, icbs: list[nd.Icb]) -> dict[str, Any]:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    seconds = 0.0
    counts: dict[str, int] = {}
    try:
        for icb in icbs:
            rows = rows_of(icb)  # made before the clock, as the import's files are
            start = time.monotonic()
            async with connection.transaction():
                for table, records in rows.tables.items():
                    await connection.copy_records_to_table(
                        table, records=records, columns=COLUMNS[table]
                    )
                    counts[table] = counts.get(table, 0) + len(records)
            seconds += time.monotonic() - start
    finally:
        await connection.close()
    return {"wall_seconds": round(seconds, 1), "rows": counts}


def copy_floor(url: str, icbs: list[nd.Icb]) -> dict[str, Any]:
    """COPY every table's rows, one transaction per ICB (as the import commits per file)."""
    return asyncio.run(_copy(url, icbs))
