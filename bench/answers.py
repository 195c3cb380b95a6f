"""What writing an answer's bytes costs, per route that answers on a hand-written path, by the
three ways it could be written (in process, no HTTP):

* hand: the route's own path (orjson over plain values; the analysis's remembered body with
  its time spliced in);
* model: what the route would do without it: build the response model from the same rows
  (validated, as a route must; ``model_construct`` shown beside it) and
  ``TypeAdapter(Model).dump_json``;
* FastAPI: the model returned to FastAPI's own response path (``serialize_response`` with the
  route's response field: validation of the returned value, then ``dump_json``), with the
  model built as above, or with plain values left for FastAPI to validate.

    python -m bench.answers [--postgresql URL] [--sqlite FILE] [--shape full|smoke]

Loads bench/dataset.py's data set into each database (its schema is dropped and rebuilt:
scratch databases only), reads the rows through the services as the routes do, and prints
a Markdown table of microseconds of CPU per answer (the fastest of 7 rounds), beside the CPU
of the whole request through the app in process, as the share that leaving the hand path
would add to it.
"""

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute, serialize_response
from pydantic import TypeAdapter

from app.analysis import router as analysis_router
from app.analysis import service as analysis_service
from app.analysis.answers import Remembered
from app.analysis.schemas import AnyGapAnalysis
from app.api import Links
from app.assets import answers as asset_answers
from app.assets import router as assets_router
from app.assets import service as assets_service
from app.assets.schemas import AssetFilters, AssetPage, AssetPublic, EvidenceLink
from app.auth.principal import OPERATOR
from app.config import Settings
from app.db import make_engine, make_sessions, utcnow
from app.http.answers import ASSET_PAGE, GAP_ANALYSIS, AnalysisAnswer
from app.http.links import PageRows
from app.http.wire import dump_json
from app.main import create_app
from app.organisations import router as organisations_router
from app.organisations import service as organisations_service
from app.organisations.schemas import OrganisationPublic
from app.pagination import PageParams
from app.vocabulary import Area, Confidence, Maturity, Scope
from bench import dataset

ROUNDS = 7
BASE = "http://127.0.0.1:8000/v1"
RATE_LIMIT = "100000000/minute"  # measured as part of the path, never hit


def _per_call_us(work: Callable[[], object], budget: float = 0.7) -> float:
    """Microseconds of this process's CPU per call: the fastest of ROUNDS rounds, ``budget``
    CPU seconds in all. CPU time, not the wall clock: on a shared machine the wall clock
    counts the time the process waited for a core."""
    calls, elapsed = 1, 0.0
    while elapsed < 0.02:  # size a round
        calls *= 2
        start = time.process_time()
        for _ in range(calls):
            work()
        elapsed = time.process_time() - start
    calls = max(1, int(calls * budget / ROUNDS / elapsed))
    rounds = []
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(calls):
            work()
        rounds.append((time.process_time() - start) / calls * 1e6)
    return min(rounds)


def _fields() -> dict[str, Any]:
    """Each route's response field, as FastAPI built it for the real app."""
    routers = (analysis_router.router, assets_router.router, organisations_router.router)
    return {
        str(route.operation_id): route.response_field
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.response_field is not None
    }


def _serialise(field: Any, content: object) -> bytes:
    """FastAPI's response path for an async route whose response class is the default."""
    coroutine = serialize_response(field=field, response_content=content, dump_json=True)
    try:
        coroutine.send(None)
    except StopIteration as done:
        body: bytes = done.value
        return body
    raise AssertionError("serialize_response awaited something")


def _constructed(row: Mapping[str, Any]) -> AssetPublic:
    values = assets_service.tags_and_evidence(row)
    values["evidence"] = [EvidenceLink.model_construct(**link) for link in values["evidence"]]
    values["area"], values["confidence"] = Area(row["area"]), Confidence(row["confidence"])
    values["maturity"] = Maturity(row["maturity"])
    return AssetPublic.model_construct(**values)


async def _measure(url: str, data: dataset.Dataset) -> dict[str, dict[str, float]]:
    settings = Settings(database_url=url, log_level="WARNING")
    engine = make_engine(settings)
    sessions = make_sessions(engine, settings)
    fields = _fields()
    try:
        reads = sessions.reads
        rows = await assets_service.list_page(
            reads,
            principal=OPERATOR,
            organisation_id=data.member,
            page=PageParams(limit=50, cursor=None),
            filters=AssetFilters(),
        )
        row = await assets_service.get(reads, data.asset, principal=OPERATOR)
        organisation = await organisations_service.get(reads, data.member, principal=OPERATOR)
        analyses = {
            scope: (
                await analysis_service.analysed(
                    reads, principal=OPERATOR, organisation_id=target, scope=scope
                )
            )[0]
            for scope, target in ((Scope.ORGANISATION, data.member), (Scope.SYSTEM, data.ics))
        }
    finally:
        await sessions.dispose()
        await engine.dispose()

    results: dict[str, dict[str, float]] = {}
    self_url = f"{BASE}/organisations/{data.member}/assets"
    page = PageRows(rows[:50], self_url, f"{self_url}?cursor=bmV4dA")
    links = {"self": page.self_url, "next": page.next_url}
    page_adapter = TypeAdapter(AssetPage)
    assert page_adapter.dump_json(ASSET_PAGE.model(page), by_alias=True) == ASSET_PAGE.write(page)
    results["assets-list (page of 50)"] = {
        "hand": _per_call_us(lambda: ASSET_PAGE.write(page)),
        "model": _per_call_us(
            lambda: page_adapter.dump_json(ASSET_PAGE.model(page), by_alias=True)
        ),
        "constructed": _per_call_us(
            lambda: page_adapter.dump_json(
                AssetPage.model_construct(
                    items=[_constructed(r) for r in page.rows],
                    links=Links.model_construct(self=page.self_url, next=page.next_url),
                ),
                by_alias=True,
            )
        ),
        "fastapi": _per_call_us(lambda: _serialise(fields["assets-list"], ASSET_PAGE.model(page))),
        "fastapi_values": _per_call_us(
            lambda: _serialise(
                fields["assets-list"],
                {"items": [assets_service.tags_and_evidence(r) for r in page.rows], "links": links},
            )
        ),
    }
    one_adapter = TypeAdapter(AssetPublic)
    results["assets-get"] = {
        "hand": _per_call_us(lambda: dump_json(asset_answers.page_item(row))),
        "model": _per_call_us(
            lambda: one_adapter.dump_json(asset_answers.public(row), by_alias=True)
        ),
        "constructed": _per_call_us(
            lambda: one_adapter.dump_json(_constructed(row), by_alias=True)
        ),
        "fastapi": _per_call_us(
            lambda: _serialise(fields["assets-get"], asset_answers.public(row))
        ),
        "fastapi_values": _per_call_us(
            lambda: _serialise(fields["assets-get"], assets_service.tags_and_evidence(row))
        ),
    }
    org_adapter = TypeAdapter(OrganisationPublic)
    org_values = organisation.model_dump()
    results["organisations-get (already the model's)"] = {
        "model": _per_call_us(
            lambda: org_adapter.dump_json(
                OrganisationPublic.model_validate(org_values), by_alias=True
            )
        ),
        "fastapi": _per_call_us(
            lambda: _serialise(
                fields["organisations-get"], OrganisationPublic.model_validate(org_values)
            )
        ),
    }
    analysis_adapter: TypeAdapter[Any] = TypeAdapter(AnyGapAnalysis)
    for scope, remembered in analyses.items():
        answer = AnalysisAnswer(remembered, utcnow())
        written = GAP_ANALYSIS.write(answer)  # rendered once, as a remembered one's first answer
        assert analysis_adapter.dump_json(GAP_ANALYSIS.model(answer), by_alias=True) == written

        def hand(r: Remembered = remembered) -> bytes:
            return GAP_ANALYSIS.write(AnalysisAnswer(r, utcnow()))

        def model(r: Remembered = remembered) -> bytes:
            copied = GAP_ANALYSIS.model(AnalysisAnswer(r, utcnow()))
            return analysis_adapter.dump_json(copied, by_alias=True)

        def fastapi(r: Remembered = remembered) -> bytes:
            copied = GAP_ANALYSIS.model(AnalysisAnswer(r, utcnow()))
            return _serialise(fields["gap-analysis-get"], copied)

        def first(r: Remembered = remembered) -> bytes:
            return GAP_ANALYSIS.write(AnalysisAnswer(Remembered(r.analysis), utcnow()))

        label = "gap-analysis-get, " + (
            "a member of the ICS of 200" if scope == Scope.ORGANISATION else "system, ICS of 200"
        )
        results[label] = {
            "hand": _per_call_us(hand),
            "model": _per_call_us(model),
            "fastapi": _per_call_us(fastapi),
            "first render": _per_call_us(first, budget=1.5),
        }
    return results


async def _route_us(app: Any, target: str, key: str, rounds: int = ROUNDS) -> float:
    """Microseconds of this process's CPU per request of the whole route, called in process as
    the server calls the app (no sockets, no HTTP parsing; the database server's own CPU is
    not counted): the fastest of ``rounds`` rounds of 0.2 CPU seconds. Under the benchmark's
    load one worker is bound by this CPU time, so a cost added to it moves the throughput and
    the p50 (connections ÷ throughput) by its share of it."""
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {key}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def once() -> None:
        await app(dict(scope), receive, send)

    for _ in range(20):  # warm: the analysis is remembered after its first answer
        await once()
    best = float("inf")
    for _ in range(rounds):
        calls, start = 0, time.process_time()
        while time.process_time() - start < 0.2:
            await once()
            calls += 1
        best = min(best, (time.process_time() - start) / calls * 1e6)
    assert set(statuses) == {200}, (target, set(statuses))
    return best


async def _routes_us(url: str, data: dataset.Dataset) -> dict[str, float]:
    settings = Settings(database_url=url, log_level="WARNING", rate_limit=RATE_LIMIT)
    app = create_app(settings)
    targets = {
        "assets-list (page of 50)": f"/v1/organisations/{data.member}/assets?limit=50",
        "assets-get": f"/v1/assets/{data.asset}",
        "organisations-get (already the model's)": f"/v1/organisations/{data.member}",
        "gap-analysis-get, a member of the ICS of 200": (
            f"/v1/organisations/{data.member}/gap-analysis"
        ),
        "gap-analysis-get, system, ICS of 200": (
            f"/v1/organisations/{data.ics}/gap-analysis?scope=system"
        ),
    }
    async with app.router.lifespan_context(app):
        return {label: await _route_us(app, target, data.key) for label, target in targets.items()}


def _table(title: str, results: dict[str, dict[str, float]]) -> str:
    columns = ["route", "hand", "model", "constructed", "fastapi", "fastapi_values"]
    columns += ["first render", "Δ", "Δ ÷ route"]
    lines = [
        f"**{title}** (µs of CPU per answer, the fastest of {ROUNDS} rounds; route: the whole "
        "request in process; Δ: the cheapest model path less the hand path, in µs and in % of "
        "the route)",
        "",
        "| answer | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for route, figures in results.items():
        # What leaving the hand path would add: the cheapest way through the model.
        if "hand" in figures:
            model = min(figures[c] for c in ("model", "fastapi", "fastapi_values") if c in figures)
            figures["Δ"] = model - figures["hand"]
            figures["Δ ÷ route"] = figures["Δ"] / figures["route"] * 100
        cells = [f"{figures[c]:,.1f}" if c in figures else "" for c in columns]
        lines.append(f"| {route} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.answers", description=__doc__)
    parser.add_argument("--postgresql", help="a scratch database's URL (its schema is rebuilt)")
    parser.add_argument("--sqlite", type=Path, help="a scratch SQLite file (default: a temp)")
    parser.add_argument("--shape", choices=["full", "smoke"], default="full")
    arguments = parser.parse_args()
    shape = dataset.FULL if arguments.shape == "full" else dataset.SMOKE
    with tempfile.TemporaryDirectory() as scratch:
        path = arguments.sqlite or Path(scratch) / "answers.db"
        urls = {}
        if arguments.postgresql:
            urls["PostgreSQL"] = Settings(database_url=arguments.postgresql).database_url
        urls["SQLite"] = f"sqlite+aiosqlite:///{path}"
        for title, url in urls.items():
            data = await dataset.load(url, shape)
            before = os.getloadavg()
            results = await _measure(url, data)
            for label, route in (await _routes_us(url, data)).items():
                results[label]["route"] = route
            table = _table(title, results)
            load = f"load average {before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
            print(f"{table}\n\n{load}, {os.cpu_count()} CPUs\n", flush=True)


if __name__ == "__main__":
    asyncio.run(_main())
