"""The application factory: routers, middleware, problem handlers and the lifespan."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

import app as package
from app import health
from app.activities.router import router as activities_router
from app.analysis.examples import examples
from app.analysis.router import router as analysis_router
from app.api import ApiModel, Problem, ProblemFieldIssue
from app.assessments.router import router as assessments_router
from app.assets.router import router as assets_router
from app.config import Settings, get_settings
from app.db import make_engine, make_sessions
from app.errors import NotFound, all_error_kinds
from app.idempotency import Replay, replay_response
from app.middleware import (
    BodySizeLimitMiddleware,
    HeadMiddleware,
    RequestIdMiddleware,
    install_log_record_ids,
)
from app.organisations.router import router as organisations_router
from app.problems import install_problem_handlers
from app.reference import service as reference_service
from app.reference.router import router as reference_router

API_TITLE = "LHS asset-mapping service"
DESCRIPTION = """\
Record the assets and activities that make an organisation a learning health system, in four
areas (data, technology, learning communities, improvement), and compare them with a reference
model to get prioritised, explained recommendations.

Conventions: JSON in lowerCamelCase; errors are RFC 9457 `application/problem+json` (FastAPI's
default 422 body is replaced by the same problem format, with `errors[]`); lists use cursor
pagination (`limit`, `cursor`, `links.next` and a `Link` header); single resources carry
`ETag: W/"<version>"` and updates and deletes require `If-Match`.
"""


def configure_logging(level: str) -> None:
    install_log_record_ids()
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s corr=%(correlation_id)s] "
            "%(message)s"
        )
    )
    root = logging.getLogger("app")
    root.handlers[:] = [handler]
    root.setLevel(level)


class ServiceInfo(ApiModel):
    name: str
    version: str
    docs: str
    openapi: str


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = make_sessions(engine)
        app.state.migration_heads = health.migration_heads(settings)
        async with app.state.sessions.write() as session:
            await reference_service.install_shipped(session)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title=API_TITLE,
        version=package.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        separate_input_output_schemas=False,
    )
    install_problem_handlers(app)
    app.add_exception_handler(Replay, replay_response)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(HeadMiddleware)
    app.add_middleware(RequestIdMiddleware)

    app.include_router(health.router)
    for router in (
        organisations_router,
        assets_router,
        activities_router,
        reference_router,
        analysis_router,
        assessments_router,
    ):
        app.include_router(router, prefix="/v1")

    @app.get("/v1", operation_id="service-info", tags=["service"], response_model=ServiceInfo)
    async def service_info() -> ServiceInfo:
        """Name, version and where the documentation is."""
        return ServiceInfo(
            name=API_TITLE, version=package.__version__, docs="/docs", openapi="/openapi.json"
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

    _install_openapi(app)
    return app


IF_MATCH_PATTERN = r'^\s*(\*|(W/)?"\d{1,18}"(\s*,\s*(W/)?"\d{1,18}")*)\s*$'


def _require_if_match(operation: dict[str, Any]) -> None:
    """Say what the server enforces: If-Match is required (428 without) and is a list of ETags.
    It is optional in the signature only so that its absence is a 428, not a 422."""
    for parameter in operation.get("parameters", []):
        if parameter["name"] == "If-Match":
            parameter["required"] = True
            parameter["schema"] = {
                "type": "string",
                "pattern": IF_MATCH_PATTERN,
                "examples": ['W/"1"'],
            }


def _install_openapi(app: FastAPI) -> None:
    """Add the problem schemas that error responses reference by $ref."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = FastAPI.openapi(app)
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                if method in ("patch", "delete"):
                    _require_if_match(operation)
                # The route's one-line docstring is its summary, not a long description.
                description = operation.pop("description", None)
                if description:
                    operation["summary"] = description.strip().splitlines()[0]
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, example in examples().items():
            components[name]["examples"] = [example]
        for model in (Problem, ProblemFieldIssue):
            model_schema = model.model_json_schema(
                by_alias=True, ref_template="#/components/schemas/{model}", mode="serialization"
            )
            model_schema.pop("$defs", None)
            components[model.__name__] = model_schema
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


app = create_app()
