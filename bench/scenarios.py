"""What is measured: the service's requests and the references', each against a server of
its own started for the purpose, with the same uvicorn flags."""

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx

from bench import load, memory, server
from bench.dataset import Dataset
from bench.load import Request, Result
from bench.references import ENV as REF_ENV
from bench.server import Server

log = logging.getLogger("bench")

NEW_ASSET = json.dumps(
    {"area": "data", "name": "Benchmark asset", "maturity": 2, "confidence": "self_assessed"}
)
CSV_EXPORT = "csv_export"
EXPORT_CONNECTIONS = 2


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    request: Request
    heavy: bool = False  # slow per request: measured at least HEAVY_SECONDS
    # At most this many connections: a request that takes seconds (an export of 20,000 rows)
    # at 32 at once only measures the overload bound refusing it.
    connections: int | None = None


def service_scenarios(data: Dataset) -> list[Scenario]:
    """Reads first; the create last (it writes into an organisation no other scenario reads)."""
    return [
        Scenario("org_get", "get an organisation", Request(f"/v1/organisations/{data.member}")),
        Scenario("asset_get", "get an asset", Request(f"/v1/assets/{data.asset}")),
        Scenario(
            "asset_page",
            "list assets (page of 50)",
            Request(f"/v1/organisations/{data.member}/assets?limit=50"),
        ),
        Scenario(
            "gap_member",
            f"gap analysis, a member of the ICS of {data.shape.members}",
            Request(f"/v1/organisations/{data.member}/gap-analysis"),
            heavy=True,
        ),
        Scenario(
            "gap_system",
            f"system gap analysis, ICS of {data.shape.members}",
            Request(f"/v1/organisations/{data.ics}/gap-analysis?scope=system"),
            heavy=True,
        ),
        Scenario(
            "report",
            "report (HTML)",
            Request(f"/v1/organisations/{data.member}/report"),
            heavy=True,
        ),
        Scenario(
            CSV_EXPORT,
            f"CSV export of the ICS's {data.shape.members * data.shape.assets} assets "
            f"({EXPORT_CONNECTIONS} connections)",
            Request(f"/v1/organisations/{data.ics}/assets?format=csv&depth=all"),
            heavy=True,
            connections=EXPORT_CONNECTIONS,
        ),
        Scenario(
            "asset_create",
            "create an asset",
            Request(
                f"/v1/organisations/{data.standalone}/assets",
                method="POST",
                body=NEW_ASSET,
                expect=201,
            ),
        ),
    ]


def probe_scenarios(data: Dataset) -> list[Scenario]:
    """Latency at 2 connections: the issue's gap-analysis targets."""
    return [
        Scenario(
            "gap_small",
            f"gap analysis, a member of an ICS of {data.shape.small_members}",
            Request(f"/v1/organisations/{data.small_member}/gap-analysis"),
        ),
        *[s for s in service_scenarios(data) if s.name in ("gap_member", "gap_system")],
    ]


REFERENCE_APPS = {
    "floor": "bench.references.raw:app",
    "plain": "bench.references.plain:app",
    "ceiling": "bench.references.ceiling:app",
}


def reference_scenarios(data: Dataset) -> dict[str, list[Scenario]]:
    page = Request(f"/organisations/{data.member}/assets")
    one = Request(f"/assets/{data.asset}")
    return {
        "floor": [
            Scenario("floor_get", "raw ASGI + driver + orjson: the same asset", one),
            Scenario("floor_page", "raw ASGI + driver + orjson: the same page of 50", page),
        ],
        "plain": [
            Scenario("plain_get", "FastAPI + SQLModel, sync routes: the same asset", one),
            Scenario("plain_page", "FastAPI + SQLModel, sync routes: the same page", page),
        ],
        "ceiling": [Scenario("ceiling", "FastAPI, a constant small JSON", Request("/ping"))],
    }


def csv_export_available(base: str, data: Dataset) -> bool:
    """The subtree CSV export is measured only where the service offers it."""
    scenario = next(s for s in service_scenarios(data) if s.name == CSV_EXPORT)
    headers = {"Authorization": f"Bearer {data.key}"}
    with httpx.stream("GET", base + scenario.request.path, headers=headers, timeout=60) as answer:
        return answer.status_code == 200 and answer.headers.get("content-type", "").startswith(
            "text/csv"
        )


@dataclass
class Settings:
    seconds: float
    warmup_seconds: float
    connections: int
    heavy_seconds: float = 0.0  # at least this long for heavy scenarios (enough completions)
    drain: bool = True  # wait for the server to finish what a run left behind
    only: frozenset[str] = frozenset()  # these service scenarios alone (empty: all of them)


def _measure(
    server: Server, scenarios: list[Scenario], settings: Settings, auth: str, connections: int
) -> Iterator[tuple[Scenario, Result]]:
    base = server.base
    default = connections
    for scenario in scenarios:
        connections = min(default, scenario.connections or default)
        if settings.warmup_seconds:
            load.drive(
                base,
                scenario.request,
                connections=connections,
                seconds=settings.warmup_seconds,
                authorization=auth,
            )
            if settings.drain:
                server.drain()
        seconds = settings.seconds
        if scenario.heavy:
            seconds = max(seconds, settings.heavy_seconds)
        result = load.drive(
            base, scenario.request, connections=connections, seconds=seconds, authorization=auth
        )
        # Requests still running when the load generator stopped: the server finishes them
        # before the next run starts (the time it takes says how far behind it had fallen).
        if settings.drain:
            result = replace(result, leftover_seconds=round(server.drain(), 1))
        log.info(
            "  %-12s %9.1f req/s  p50 %8.2f ms  p99 %8.2f ms  errors %d  leftover %.1f s",
            scenario.name,
            result.rps,
            result.p50_ms,
            result.p99_ms,
            result.errors,
            result.leftover_seconds,
        )
        yield scenario, result


def run_service(
    data: Dataset, *, env: dict[str, str], workers: int, settings: Settings, probes: bool
) -> dict[str, Any]:
    """The service's scenarios (and, when asked, the 2-connection probes) on one server."""
    out: dict[str, Any] = {"scenarios": {}, "probes": {}}
    auth = f"Bearer {data.key}"
    extra = ("--no-server-header",)
    with server.serve(
        "app.main:app", workers=workers, env=env, ready_path="/_ping", extra=extra
    ) as running:
        scenarios = service_scenarios(data)
        for scenario in scenarios:  # the table keeps this order
            out["scenarios"][scenario.name] = {"label": scenario.label, "available": False}
        if settings.only:
            scenarios = [s for s in scenarios if s.name in settings.only]
        export = next((s for s in scenarios if s.name == CSV_EXPORT), None)
        if export is not None and not csv_export_available(running.base, data):
            scenarios.remove(export)
        elif export is not None:
            # Before anything else has run: the growth is the export's alone.
            out["export_memory"] = memory.export_growth(
                running.base, running.pid, export.request.path, auth
            )
            log.info("  export memory: %s", out["export_memory"])
        for scenario, result in _measure(running, scenarios, settings, auth, settings.connections):
            out["scenarios"][scenario.name] = {"label": scenario.label, **result.as_json()}
        if probes:
            for scenario, result in _measure(running, probe_scenarios(data), settings, auth, 2):
                out["probes"][scenario.name] = {"label": scenario.label, **result.as_json()}
    return out


def run_references(
    data: Dataset, *, database_url: str, workers: int, settings: Settings
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    env = {REF_ENV: database_url}
    for name, scenarios in reference_scenarios(data).items():
        with server.serve(
            REFERENCE_APPS[name], workers=workers, env=env, ready_path="/ping"
        ) as running:
            for scenario, result in _measure(
                running, scenarios, settings, "", settings.connections
            ):
                out[scenario.name] = {"label": scenario.label, **result.as_json()}
    return out
