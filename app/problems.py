"""Render every failure as RFC 9457 problem+json: our AppErrors, FastAPI's validation errors,
Starlette's 404/405, and anything unexpected (logged with its trace ID, never shown)."""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.api import PROBLEM_MEDIA_TYPE
from app.errors import (
    AppError,
    BadRequest,
    Conflict,
    FieldIssue,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)

logger = logging.getLogger("app.problems")


def problem_response(error: AppError, *, instance: str, trace_id: str) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{error.slug()}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": instance,
        "code": error.code,
        "traceId": trace_id,
        "errors": [issue.as_dict() for issue in error.errors],
    }
    return JSONResponse(
        body, status_code=error.status, headers=error.headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _trace_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


def _pointer(loc: Sequence[int | str]) -> str:
    where, *path = loc if loc else ("body",)
    if where == "body":
        return "#/" + "/".join(str(part) for part in path)
    return str(path[0]) if path else str(where)


_MESSAGES = {
    "extra_forbidden": "Unknown field: check its spelling (fields are lowerCamelCase).",
    "missing": "This field is required.",
}


def validation_issues(errors: Sequence[Any]) -> list[FieldIssue]:
    return [
        FieldIssue(_pointer(err.get("loc", ())), _MESSAGES.get(err.get("type", ""), err["msg"]))
        for err in errors
    ]


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(exc, instance=request.url.path, trace_id=_trace_id(request))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    error: AppError
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if request.method in ("POST", "PUT", "PATCH") and not (
        content_type == "application/json" or content_type.endswith("+json")
    ):
        error = UnsupportedMediaType(
            f"The body is {content_type!r}; send JSON with Content-Type: application/json."
        )
    elif any(err.get("type") == "json_invalid" for err in errors):
        error = BadRequest("The request body is not valid JSON.")
    else:
        error = ValidationFailed(
            "The request has invalid fields; see errors[].", errors=validation_issues(errors)
        )
    return problem_response(error, instance=request.url.path, trace_id=_trace_id(request))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error: AppError
    if exc.status_code == 404:
        error = NotFound(f"No route matches {request.url.path}.")
    elif exc.status_code == 405:
        allowed = _allowed_methods(request)
        error = MethodNotAllowed(
            f"{request.method} is not supported on {request.url.path}; use {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
        )
    elif exc.status_code == 413:
        error = PayloadTooLarge(str(exc.detail))
    elif exc.status_code < 500:
        error = BadRequest(str(exc.detail), headers=exc.headers)
    else:
        error = AppError(str(exc.detail), headers=exc.headers)
    return problem_response(error, instance=request.url.path, trace_id=_trace_id(request))


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route on this path (Starlette names only the first route's)."""
    allowed = []
    for method in ("DELETE", "GET", "PATCH", "POST", "PUT"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    if "GET" in allowed:  # HeadMiddleware serves HEAD wherever GET is
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return allowed


# PostgreSQL: deadlock detected, serialization failure, lock not available.
_RETRYABLE_SQLSTATES = {"40P01", "40001", "55P03"}


def _retryable(exc: Exception) -> bool:
    """A clash with a concurrent transaction: the same request would succeed if sent again."""
    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)  # SQLite, after busy_timeout


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    error: AppError
    if _retryable(exc):
        logger.warning("concurrent transaction clash: %s", exc.__class__.__name__)
        error = Conflict(
            "The change clashed with another one made at the same moment; retry it.",
            headers={"Retry-After": "1"},
        )
    elif isinstance(exc, IntegrityError):
        # A guard in the services normally says more; this is the race they cannot see
        # (a parent deleted between the check and the insert, a duplicate key inserted meanwhile).
        error = Conflict("The change conflicts with data changed meanwhile; re-read and retry.")
    elif isinstance(exc, SQLAlchemyTimeoutError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        logger.warning("database unavailable: %s", type(exc).__name__)
        error = ServiceUnavailable(
            "The database is busy or unreachable; retry shortly.", headers={"Retry-After": "5"}
        )
    else:
        raise exc
    return problem_response(error, instance=request.url.path, trace_id=_trace_id(request))


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(IntegrityError, _database_error)
    app.add_exception_handler(SQLAlchemyTimeoutError, _database_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
