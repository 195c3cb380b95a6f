"""Render every failure as RFC 9457 problem+json: our AppErrors, FastAPI's validation errors,
Starlette's 404/405, database failures, and anything unexpected (logged with its trace ID,
never shown). Under the FHIR base (/v1/fhir) the same problem is a FHIR OperationOutcome:
chosen here, where every problem (the handlers' and the middleware's) is rendered."""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic.alias_generators import to_camel
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

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
    StaleVersion,
    ValidationFailed,
    input_message,
)
from app.fhir.outcome import in_base, operation_outcome
from app.fhir.schemas import FHIR_JSON
from app.http.preconditions import etag
from app.logs import PROBLEM_CODE

logger = logging.getLogger("app.problems")


def _query_names(scope: Scope) -> set[str]:
    query = scope.get("query_string", b"").decode("latin-1")
    return {part.split("=", 1)[0] for part in query.split("&") if part}


def pointer(issue: FieldIssue, scope: Scope) -> str:
    """Where the caller finds the field: a query parameter's name, or a JSON pointer into the
    body. Services name fields in Python terms; the wire is camelCase."""
    if issue.pointer is not None:
        return issue.pointer
    parts = [to_camel(part) if isinstance(part, str) else str(part) for part in issue.field]
    if len(parts) == 1 and parts[0] in _query_names(scope):
        return parts[0]
    return "#/" + "/".join(parts)


def _issue(issue: FieldIssue, scope: Scope) -> dict[str, Any]:
    body: dict[str, Any] = {"pointer": pointer(issue, scope), "message": issue.message}
    if issue.line is not None:
        body["line"] = issue.line
    if issue.column is not None:
        body["column"] = issue.column
    return body


def problem_response(error: AppError, scope: Scope) -> Response:
    state = scope.get("state")
    if isinstance(state, dict):
        state[PROBLEM_CODE] = error.code
    headers = dict(error.headers)
    if isinstance(error, StaleVersion):
        headers["ETag"] = etag(error.current_version)
    if in_base(scope.get("path", "/"), scope.get("root_path", "")):
        return _outcome_response(error, scope, headers)
    body: dict[str, Any] = {
        "type": f"/problems/{error.slug()}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": scope.get("path", "/"),
        "code": error.code,
        "traceId": str(scope.get("state", {}).get("request_id", "-")),
        "errors": [_issue(issue, scope) for issue in error.errors],
    }
    return JSONResponse(
        body, status_code=error.status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _outcome_response(error: AppError, scope: Scope, headers: dict[str, str]) -> Response:
    """The problem as FHIR says errors are answered: an OperationOutcome, same status and
    headers (Retry-After, WWW-Authenticate, Allow), our code in ``details``."""
    outcome = operation_outcome(
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        request_id=str(scope.get("state", {}).get("request_id", "-")),
        fields=[(pointer(issue, scope), issue.message) for issue in error.errors],
    )
    return Response(
        outcome.to_json(), status_code=error.status, headers=headers, media_type=FHIR_JSON
    )


def _wire_pointer(loc: Sequence[int | str]) -> str:
    """FastAPI names fields by their wire names (aliases) already."""
    where, *path = loc if loc else ("body",)
    if where == "body":
        return "#/" + "/".join(str(part) for part in path)
    return str(path[0]) if path else str(where)


def validation_issues(errors: Sequence[Any]) -> list[FieldIssue]:
    return [
        FieldIssue(
            (),
            input_message(err),
            pointer=_wire_pointer(err.get("loc", ())),
        )
        for err in errors
    ]


async def _app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return problem_response(exc, request.scope)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    error: AppError
    if any(err.get("type") == "json_invalid" for err in errors):
        error = BadRequest("The request body is not valid JSON.")
    else:
        error = ValidationFailed(
            "The request has invalid fields; see errors[].", errors=validation_issues(errors)
        )
    return problem_response(error, request.scope)


async def _http_error(request: Request, exc: Exception) -> Response:
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
    return problem_response(error, request.scope)


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route on this path (Starlette names only the first route's)."""
    allowed = []
    for method in ("DELETE", "GET", "PATCH", "POST", "PUT"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    if "GET" in allowed:  # the edge layer serves HEAD wherever GET is
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return allowed


# PostgreSQL: deadlock detected, serialization failure, lock not available.
_RETRYABLE_SQLSTATES = {"40P01", "40001", "55P03"}
# Unique and foreign-key violations: a race with another writer that a retry resolves or
# explains. Any other integrity failure (CHECK, NOT NULL) is a bug here, not the caller's.
_CONFLICT_SQLSTATES = {"23505", "23503"}
_SQLITE_CONFLICTS = ("UNIQUE constraint failed", "FOREIGN KEY constraint failed")
# PostgreSQL's read_only_sql_transaction: a write on a read-only database or a hot standby.
_READ_ONLY_SQLSTATE = "25006"
# SQLite cannot write the file at all: the deployment's fault, not the request's.
_SQLITE_UNWRITABLE = (
    "attempt to write a readonly database",
    "unable to open database file",
    "disk I/O error",
    "database or disk is full",
)


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _retryable(exc: Exception) -> bool:
    """A clash with a concurrent transaction: the same request would succeed if sent again."""
    return isinstance(exc, DBAPIError) and _sqlstate(exc) in _RETRYABLE_SQLSTATES


def _sqlite_busy(exc: Exception) -> bool:
    """SQLite's write lock stayed taken past busy_timeout (writes take it at BEGIN, so this
    is a wait that ran out, not a clash between two transactions)."""
    return isinstance(exc, DBAPIError) and "database is locked" in str(exc.orig)


def _conflict(exc: IntegrityError) -> bool:
    message = str(exc.orig)
    return _sqlstate(exc) in _CONFLICT_SQLSTATES or message.startswith(_SQLITE_CONFLICTS)


def unwritable(exc: Exception) -> bool:
    """The database cannot be written: a SQLite file read-only, missing or full, or a
    PostgreSQL database read-only (a standby, or default_transaction_read_only)."""
    if not isinstance(exc, DBAPIError):
        return False
    return _sqlstate(exc) == _READ_ONLY_SQLSTATE or str(exc.orig).startswith(_SQLITE_UNWRITABLE)


def database_problem(exc: Exception) -> AppError | None:
    """The problem a database failure means for the caller, or None for a bug (a 500)."""
    if _retryable(exc):
        logger.warning("concurrent transaction clash: %s", exc.__class__.__name__)
        return Conflict(
            "The change clashed with another one made at the same moment; retry it.",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, IntegrityError):
        if _conflict(exc):
            # A guard in the services normally says more; this is the race they cannot see
            # (a parent deleted between the check and the insert, a duplicate inserted meanwhile).
            return Conflict("The change conflicts with data changed meanwhile; re-read and retry.")
        return None
    if unwritable(exc):
        logger.error("database not writable: %s", getattr(exc, "orig", exc))
        return ServiceUnavailable(
            "The database cannot be written (read-only, missing or full); the operator has "
            "been told. Service resumes once it is writable.",
            headers={"Retry-After": "30"},
        )
    if _sqlite_busy(exc):
        logger.warning("database busy: a write waited past its bound for the write lock")
        return ServiceUnavailable(
            "The database is busy with other changes; this one was not made. Retry shortly.",
            headers={"Retry-After": "2"},
        )
    if isinstance(exc, SQLAlchemyTimeoutError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        logger.warning("database unavailable: %s", type(exc).__name__)
        return ServiceUnavailable(
            "The database is busy or unreachable; retry shortly.", headers={"Retry-After": "5"}
        )
    return None


async def _database_error(request: Request, exc: Exception) -> Response:
    error = database_problem(exc)
    if error is None:
        raise exc  # rendered as a logged 500 by the request-ID middleware
    return problem_response(error, request.scope)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(IntegrityError, _database_error)
    app.add_exception_handler(SQLAlchemyTimeoutError, _database_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
