"""The application factory: routers, middleware, problem handlers and the lifespan."""

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

import app as package
from app import db_location
from app.activities.router import router as activities_router
from app.analysis.router import router as analysis_router
from app.api import ApiModel
from app.assessments.router import router as assessments_router
from app.assets.router import router as assets_router
from app.auth.router import router as auth_router
from app.auth.setup import install_access
from app.benchmarks import snapshot as benchmark_snapshot
from app.benchmarks.router import router as benchmarks_router
from app.changes.router import router as changes_router
from app.config import Settings, get_settings, prometheus_multiproc_dir
from app.crosswalks.router import router as crosswalks_router
from app.db import Sessions, make_engine, make_sessions
from app.errors import NotFound, all_error_kinds
from app.fhir.router import router as fhir_router
from app.fields import TEXT_FORMATS
from app.http import docs, health, metrics, openapi
from app.http.idempotency import Replay, purge_expired, replay_response
from app.http.middleware import install_edge
from app.http.overload import ConcurrencyLimitMiddleware
from app.http.problems import install_problem_handlers
from app.http.replica import ReplicaMiddleware, ReplicaRouting
from app.logs import configure_logging
from app.national.router import router as national_router
from app.organisations import hierarchy
from app.organisations.router import router as organisations_router
from app.plans.router import router as plan_items_router
from app.questionnaire.router import router as questionnaire_router
from app.reference import gate as reference_gate
from app.reference import service as reference_service
from app.reference.router import router as reference_router
from app.report.router import router as report_router
from app.selfassessments import link_router as selfassessment_links
from app.selfassessments import pages as selfassessment_pages
from app.selfassessments.router import router as self_assessments_router
from app.transfer import map_router
from app.transfer import router as transfer_router

API_TITLE = "LHS asset-mapping service"
DESCRIPTION = (
    """\
Record the assets and activities that make an organisation a learning health system, in four
areas (data, technology, learning communities, improvement), and compare them with a reference
model to get prioritised, explained recommendations.

Conventions: JSON in lowerCamelCase; errors are RFC 9457 `application/problem+json` (FastAPI's
default 422 body is replaced by the same problem format, with `errors[]`); lists use cursor
pagination (`limit`, `cursor`, `links.next` and a `Link` header); single resources carry
`ETag: W/"<version>"` and updates and deletes require `If-Match`. Every answer carries
`API-Version`, the version of this contract (CHANGELOG.md lists what each version changed).

"""
    + TEXT_FORMATS
)


# One tag per resource, named as its path segment is: generated clients make one module of each.
TAGS = [
    {"name": "organisations", "description": "Organisations, their hierarchy and FHIR view."},
    {"name": "fhir", "description": "The FHIR R4 base: metadata, Organization read and search."},
    {"name": "assets", "description": "What an organisation has (data, systems, people)."},
    {"name": "activities", "description": "What an organisation does (projects, training)."},
    {"name": "plan-items", "description": "An organisation's action plan, item by item."},
    {
        "name": "self-assessments",
        "description": "A questionnaire a team answers together, submitted, then moderated.",
    },
    {"name": "imports", "description": "Spreadsheet imports of assets, activities and plan items."},
    {"name": "maps", "description": "An organisation's whole map as one file, out and in."},
    {"name": "gap-analysis", "description": "The comparison with a reference model."},
    {"name": "benchmarks", "description": "Where an organisation stands among its type."},
    {"name": "systems", "description": "Every top-level system, with its figures (national)."},
    {"name": "capabilities", "description": "Each capability's coverage across organisations."},
    {"name": "assessments", "description": "Stored snapshots of a gap analysis, compared."},
    {"name": "reports", "description": "The printable report and signed links to it."},
    {"name": "reference-models", "description": "The versioned reference LHS models."},
    {"name": "api-keys", "description": "API keys (admins)."},
    {"name": "audit-events", "description": "Who changed or exported what, and when (admins)."},
    {"name": "changes", "description": "The change feed: what changed, in commit order."},
    {"name": "service", "description": "What this service is."},
    {"name": "health", "description": "Liveness and readiness, outside /v1."},
]


class ServiceInfo(ApiModel):
    name: str
    version: str
    docs: str
    openapi: str


# Python's cycle collector, tuned for a process whose caches hold millions of long-lived
# objects (the national standings, the remembered analyses): by default a full collection
# came every dozen analyses after a change and took 165 ms each, walking every cached
# object, and collections of the young generations every 700 allocations cost 1.8 ms of a
# 16 ms analysis. Measured over 100 such analyses of a 400-member system: mean CPU per
# request 24 ms before, 16 ms after, and no full collection among them. Young cycles are
# still collected (every 50,000 allocations); what the start-up made is frozen out of every
# collection (modules, the model, the OpenAPI document: never garbage).
_YOUNG_THRESHOLD, _MIDDLE_THRESHOLD, _OLD_THRESHOLD = 50_000, 20, 100


def _tune_collector() -> None:
    # Once per process: an app made again in the same process (the tests make many) must not
    # freeze, forever, what the apps before it left behind.
    if gc.get_threshold()[0] == _YOUNG_THRESHOLD:
        return
    gc.freeze()
    gc.set_threshold(_YOUNG_THRESHOLD, _MIDDLE_THRESHOLD, _OLD_THRESHOLD)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = make_sessions(engine, settings)
        app.state.replica = (
            ReplicaRouting(app.state.sessions, settings) if app.state.sessions.replica else None
        )
        app.state.migration_heads = health.migration_heads(settings)
        await db_location.say_if_not_ready(engine, settings, app.state.migration_heads)
        try:
            async with app.state.sessions.write() as session:
                await reference_gate.install_shipped(session)
                await reference_service.check_default(session)
        except reference_service.DefaultModelMissing:
            await engine.dispose()
            raise
        chores = [asyncio.create_task(_housekeeping(app.state.sessions, settings))]
        if prometheus_multiproc_dir() is not None:
            chores.append(asyncio.create_task(metrics.sample_pool_forever(engine)))
        if app.state.key_changes is not None:
            # Serve once listening for key changes (or after a short wait, when Redis is slow
            # or down): subscribing empties the key cache, so keys verified before it would
            # be forgotten at a moment that depends on the race, not on any announcement.
            listening = asyncio.Event()
            chores.append(asyncio.create_task(app.state.key_changes.listen(ready=listening)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(listening.wait(), KEY_CHANNEL_WAIT_SECONDS)
        _tune_collector()
        try:
            yield
        finally:
            for chore in chores:
                chore.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await chore
            await app.state.authenticator.usage.drain()
            if app.state.key_changes is not None:
                await app.state.key_changes.close()
            metrics.forget_this_process()
            if app.state.replica is not None:
                await app.state.replica.close()
            await app.state.sessions.dispose()
            await engine.dispose()

    app = FastAPI(
        title=API_TITLE,
        version=package.API_VERSION,
        description=DESCRIPTION,
        # Relative: the service that serves this document, wherever it is deployed (a proxy's
        # path prefix is added by FastAPI from the request's root_path).
        servers=[{"url": "/", "description": "This service."}],
        openapi_tags=TAGS,
        lifespan=lifespan,
        separate_input_output_schemas=False,
        # Served by app.http.docs instead: FastAPI's pages need a CDN and an inline script.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    install_problem_handlers(app)
    app.add_exception_handler(Replay, replay_response)
    # Outside in: the edge (IDs, Host, body size, HEAD, security headers, access log), CORS,
    # the bound on requests in flight, authentication, rate limit, the rest.
    # Innermost: a write's position is remembered, and a read the replica failed is answered
    # again, inside the request's slot of the bound on requests in flight.
    if settings.database_replica_url is not None:
        app.add_middleware(ReplicaMiddleware, routing=lambda: getattr(app.state, "replica", None))
    install_access(app, settings)
    if settings.max_requests_in_flight:
        app.add_middleware(
            ConcurrencyLimitMiddleware,
            limit=settings.max_requests_in_flight,
            queue=settings.overload_queue,
            wait_seconds=settings.overload_wait_seconds,
            exempt=settings.overload_exempt_paths,
            write_wait_seconds=settings.sqlite_write_timeout_seconds
            if settings.is_sqlite
            else None,
        )
    install_edge(app, settings, large_paths=transfer_router.LARGE_BODY_PATHS)

    app.include_router(health.router)
    # FastAPI tries routers in this order, each route of each router in turn (a request for
    # the last router's route cost 0.3 ms of matching): the most requested first. No two
    # routers have paths that one request could match, so the order changes nothing else.
    for router in (
        assets_router,
        organisations_router,
        analysis_router,
        activities_router,
        plan_items_router,
        fhir_router,
        reference_router,
        assessments_router,
        report_router,
        auth_router,
        changes_router,
        transfer_router.router,
        map_router.router,
        crosswalks_router,
        benchmarks_router,
        national_router,
        questionnaire_router,
        self_assessments_router,
        selfassessment_links.router,
        selfassessment_pages.router,
    ):
        app.include_router(router, prefix="/v1")

    @app.get("/v1", operation_id="service-info", tags=["service"], response_model=ServiceInfo)
    async def service_info() -> ServiceInfo:
        """Name, version and where the documentation is."""
        return ServiceInfo(
            name=API_TITLE, version=package.API_VERSION, docs="/docs", openapi="/openapi.json"
        )

    kinds = {kind.slug(): kind for kind in all_error_kinds()}

    @app.get("/problems/{slug}", include_in_schema=False)
    async def problem_type(slug: str, request: Request) -> HTMLResponse:
        kind = kinds.get(slug)
        if kind is None:
            raise NotFound(f"No problem type {slug!r}.")
        return HTMLResponse(
            f"<h1>{kind.status} {kind.title}</h1><p>code: <code>{kind.code}</code></p>"
            f"<p>{kind.description}</p>"
        )

    metrics.install(app)
    openapi.install(app, extra_models=transfer_router.BODY_MODELS)
    docs.install(app)
    return app


HOUSEKEEPING_SECONDS = 3600
KEY_CHANNEL_WAIT_SECONDS = 2.0


async def _housekeeping(sessions: Sessions, settings: Settings) -> None:
    """Background chores that must not run on a request's path (expired Idempotency-Keys,
    the records revisions of deleted organisations, the benchmark snapshot when it is due:
    with several instances, the first to move its time on takes it, the others skip)."""
    log = logging.getLogger("app.housekeeping")
    while True:
        try:
            purged = await purge_expired(sessions)
            if purged:
                log.info("forgot %d expired Idempotency-Key(s)", purged)
            await hierarchy.forget_deleted_revisions(sessions)
            await benchmark_snapshot.refresh(
                sessions, every=timedelta(seconds=settings.benchmark_refresh_seconds)
            )
        except Exception:  # a chore that fails is retried next time; the service carries on
            log.warning("housekeeping failed", exc_info=True)
        await asyncio.sleep(HOUSEKEEPING_SECONDS)


app = create_app()
