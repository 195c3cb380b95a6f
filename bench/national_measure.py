"""The national scenarios measured on a loaded database: p50s at 2 connections (wrk, or the
Python generator), the first analysis after a change, the national views when the server has
them, the global CSV export's memory, and the plans of the hot requests (auto_explain)."""

import asyncio
import json
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import PROJECT_ROOT
from bench import load
from bench.memory import export_growth

CONNECTIONS = 2
_BY_CODE = "SELECT id FROM organisation WHERE ods_code = :code"
PG_LOG = Path("/var/log/postgresql/postgresql-15-main.log")


class Target:
    """What the scenarios address in a loaded national database."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.auth = f"Bearer {key}"
        self.ics, self.member, self.sizes = asyncio.run(self._find())

    async def _find(self) -> tuple[uuid.UUID, uuid.UUID, dict[str, int]]:
        engine = create_async_engine(self.url)
        subtree = """WITH RECURSIVE t(id) AS (SELECT o.id FROM organisation o WHERE o.id = :root
            UNION ALL SELECT o.id FROM organisation o JOIN t ON o.parent_id = t.id)
            SELECT id FROM t"""
        counts = {
            "member_assets": "SELECT count(*) FROM asset WHERE organisation_id = :member",
            "member_activities": "SELECT count(*) FROM activity WHERE organisation_id = :member",
            "ics_organisations": f"SELECT count(*) FROM ({subtree}) s",  # noqa: S608 - constant SQL
            "ics_assets": f"SELECT count(*) FROM asset WHERE organisation_id IN ({subtree})",  # noqa: S608 - constant SQL
            "ics_activities": f"SELECT count(*) FROM activity WHERE organisation_id IN ({subtree})",  # noqa: S608 - constant SQL
            "organisations": "SELECT count(*) FROM organisation",
            "assets": "SELECT count(*) FROM asset",
            "activities": "SELECT count(*) FROM activity",
            "plan_items": "SELECT count(*) FROM plan_item",
            "audit_events": "SELECT count(*) FROM audit_event",
            "self_assessments": "SELECT count(*) FROM self_assessment WHERE status = 'submitted'",
            "self_assessment_answers": "SELECT count(*) FROM self_assessment_answer",
            "return_scores": "SELECT count(*) FROM return_score",
            "same_type_peers": "SELECT count(*) FROM organisation"
            " WHERE organisation_type = 'gp_practice'",
        }
        try:
            async with engine.connect() as connection:

                async def one(sql: str, **values: Any) -> Any:
                    return (await connection.execute(text(sql), values)).scalar_one()

                # As stored (SQLite keeps hex text): the counts below bind them back as they are.
                ics = await one(_BY_CODE, code="Q00")
                member = await one(_BY_CODE, code="P00000")
                sizes = {
                    name: int(await one(sql, root=ics, member=member))
                    for name, sql in counts.items()
                }
        finally:
            await engine.dispose()
        return uuid.UUID(str(ics)), uuid.UUID(str(member)), sizes

    def paths(self) -> dict[str, str]:
        return {
            "member_analysis": f"/v1/organisations/{self.member}/gap-analysis",
            "system_view": f"/v1/organisations/{self.ics}/gap-analysis?scope=system",
            "assets_page": f"/v1/organisations/{self.member}/assets?limit=50",
            "benchmark": f"/v1/organisations/{self.member}/benchmark",
            "changes_page": "/v1/changes?limit=50",
            "systems": "/v1/systems",
            "coverage": "/v1/capabilities/coverage?groupBy=organisationType",
        }


def refresh_benchmarks(url: str) -> float:
    """A benchmark snapshot taken with the CLI, as an operator would; its seconds."""
    began = time.monotonic()
    subprocess.run(  # noqa: S603 - our own CLI
        [str(PROJECT_ROOT / ".venv/bin/lhs-map"), "benchmarks", "refresh"],
        env={"LHS_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    return round(time.monotonic() - began, 1)


def _timed_get(client: httpx.Client, path: str) -> tuple[int, float]:
    began = time.perf_counter()
    answer = client.get(path)
    answer.read()
    return answer.status_code, round((time.perf_counter() - began) * 1000, 1)


def _write(client: httpx.Client, target: Target, n: int) -> None:
    """A change to the member: a new asset (what makes the next analysis cold)."""
    body = {"area": "data", "name": f"Cold probe {n}", "maturity": 2}
    answer = client.post(f"/v1/organisations/{target.member}/assets", json=body)
    answer.raise_for_status()


def p50(base: str, path: str, target: Target, seconds: float) -> dict[str, Any]:
    result = load.drive(
        base,
        load.Request(path),
        connections=CONNECTIONS,
        seconds=seconds,
        authorization=target.auth,
    )
    return {
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "rps": result.rps,
        "requests": result.requests,
        "errors": result.errors,
    }


def scenarios(
    base: str,
    pid: int,
    target: Target,
    *,
    seconds: float,
    national: bool,
    cold_rounds: int = 11,
    warmup_rounds: int = 10,
) -> dict[str, Any]:
    paths = target.paths()
    out: dict[str, Any] = {}
    headers = {"Authorization": target.auth}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        # Cold: each analysis is the first after a change to the member's records. The first
        # rounds of a new server are kept apart (its first analysis of the system, and each
        # pooled connection's first use of each statement, which the driver prepares once per
        # connection): reported, not in the p50 of a running service's.
        rounds = []
        for n in range(warmup_rounds + cold_rounds):
            _write(client, target, n)
            status, ms = _timed_get(client, paths["member_analysis"])
            if status != 200:
                raise RuntimeError(f"member analysis answered {status}")
            rounds.append(ms)
        warmup, colds = rounds[:warmup_rounds], rounds[warmup_rounds:]
        out["member_analysis_cold"] = {
            "p50_ms": sorted(colds)[len(colds) // 2],
            "all_ms": colds,
            "first_after_start_ms": warmup,
        }
        for name in ("member_analysis", "system_view", "assets_page", "benchmark", "changes_page"):
            status, first = _timed_get(client, paths[name])
            if status != 200:
                out[name] = {"available": False, "status": status}
                continue
            out[name] = {"first_ms": first} | p50(base, paths[name], target, seconds)
        if national:
            for n, name in enumerate(("systems", "coverage")):
                # The first answer on this database (for systems, every organisation in the
                # country credited and its standing kept: once per deployment), then the first
                # after a change to one member.
                status, first = _timed_get(client, paths[name])
                if status != 200:
                    out[name] = {"available": False, "status": status}
                    continue
                _write(client, target, 100 + n)
                status, cold = _timed_get(client, paths[name])
                out[name] = {"first_ms": first, "cold_ms": cold}
                out[name] |= p50(base, paths[name], target, seconds)
            status, _ = _timed_get(client, "/v1/assets?format=csv&limit=1")
            if status == 200:
                out["global_csv"] = export_growth(base, pid, "/v1/assets?format=csv", target.auth)
            else:
                out["global_csv"] = {"available": False, "status": status}
    return out


def new_worker(base: str, target: Target) -> dict[str, Any]:
    """The first answers of a server started after others have answered on this database: a
    new worker or instance after a deployment, its caches empty (the standings are kept in
    the database)."""
    paths = target.paths()
    with httpx.Client(base_url=base, headers={"Authorization": target.auth}, timeout=120) as c:
        return {name: _timed_get(c, paths[name])[1] for name in ("systems", "coverage")}


# ---- Plans: every statement of each hot request, EXPLAIN ANALYZEd by auto_explain ----

AUTO_EXPLAIN = {
    "session_preload_libraries": "'auto_explain'",
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_analyze": "on",
    "auto_explain.log_buffers": "on",
    "auto_explain.log_timing": "on",
    "auto_explain.log_nested_statements": "on",
}


def _psql(database: str, sql: str) -> None:
    subprocess.run(  # noqa: S603
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-Atqc", sql],  # noqa: S607
        check=True,
        capture_output=True,
    )


def analyze(database: str) -> None:
    _psql(database, "ANALYZE")


def explain_on(database: str) -> None:
    for name, value in AUTO_EXPLAIN.items():
        _psql("postgres", f"ALTER DATABASE {database} SET {name} = {value}")


def explain_off(database: str) -> None:
    _psql("postgres", f"ALTER DATABASE {database} RESET ALL")


def capture_plans(base: str, target: Target, database: str) -> dict[str, list[str]]:
    """One request of each hot path with auto_explain on (the server was started after
    ``explain_on``); each request's plans from the server log, split at a marker query."""
    offset = PG_LOG.stat().st_size
    with httpx.Client(base_url=base, headers={"Authorization": target.auth}, timeout=120) as c:
        for name, path in target.paths().items():
            c.get(path)  # warm the server's own caches: the plans below are a warm request's
            _psql(database, f"SELECT 'national-marker:{name}'")
            c.get(path)
            _psql(database, "SELECT 'national-marker:end'")
    time.sleep(1.0)
    with PG_LOG.open(encoding="utf-8", errors="replace") as log:
        log.seek(offset)
        text = log.read()
    return _split(text, database)


_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _split(text: str, database: str) -> dict[str, list[str]]:
    entries: list[str] = []
    mine = False
    for line in text.splitlines():
        if _ENTRY.match(line):
            mine = f"@{database} " in line
            if mine:
                entries.append(line)
        elif mine and entries:
            entries[-1] += "\n" + line
    plans: dict[str, list[str]] = {}
    current: str | None = None
    for entry in entries:
        marker = re.search(r"national-marker:(\w+)", entry)
        if marker:
            current = None if marker.group(1) == "end" else marker.group(1)
            continue
        if current and "plan:" in entry:
            plans.setdefault(current, []).append(entry.split("LOG:", 1)[-1].strip())
    return plans


def plans_markdown(plans: dict[str, list[str]], max_lines: int = 40) -> str:
    parts = [
        "# National plans",
        "",
        "Every statement of one warm request of each hot path on the national data set",
        "(PostgreSQL, auto_explain with ANALYZE and BUFFERS), trimmed to the first",
        f"{max_lines} lines of each plan. Written by `make bench-national`.",
        "",
    ]
    for name, entries in plans.items():
        parts += [f"## {name}", ""]
        for entry in entries:
            lines = entry.splitlines()
            shown = lines[:max_lines] + (["  ..."] if len(lines) > max_lines else [])
            parts += ["```", *shown, "```", ""]
    return "\n".join(parts)


def seq_scans(plans: dict[str, list[str]]) -> dict[str, list[str]]:
    """The tables a hot request's plans read by a sequential scan."""
    out = {}
    for name, entries in plans.items():
        tables = sorted({m.group(1) for e in entries for m in re.finditer(r"Seq Scan on (\w+)", e)})
        if tables:
            out[name] = tables
    return out


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
