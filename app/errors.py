"""One error hierarchy, rendered by one handler as RFC 9457 ``application/problem+json``.

Services raise these; routers never build error responses themselves. Each kind has a stable
``code`` (UPPER_SNAKE) that clients switch on, and a ``type`` URI that resolves to a page
describing it (``GET /problems/{slug}``).
"""

from collections.abc import Mapping
from typing import Any, ClassVar

FieldPath = str | tuple[str | int, ...]


class FieldIssue:
    """One problem with one input field, named in Python terms (``parent_id``, or a path such
    as ``("asset_ids", 2)``). The HTTP layer turns it into a JSON pointer (``#/parentId``) or a
    parameter name, so services never spell the wire format. Only the HTTP layer itself, which
    knows the wire, passes ``pointer`` (a header's name, a parameter's alias)."""

    __slots__ = ("column", "field", "line", "message", "pointer")

    def __init__(
        self,
        field: FieldPath,
        message: str,
        *,
        pointer: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.field: tuple[str | int, ...] = (field,) if isinstance(field, str) else field
        self.message = message
        self.pointer = pointer
        # Where in an imported file: the row's line (CSV) or index (JSON array), its column.
        self.line = line
        self.column = column


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    title: ClassVar[str] = "Internal server error"
    description: ClassVar[str] = "The service failed unexpectedly. The traceId identifies the log."

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldIssue] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = dict(headers or {})

    @classmethod
    def slug(cls) -> str:
        return cls.code.lower().replace("_", "-")


class BadRequest(AppError):
    status = 400
    code = "BAD_REQUEST"
    title = "Bad request"
    description = "The request could not be understood: a malformed parameter or header."


class InvalidCursor(BadRequest):
    code = "INVALID_CURSOR"
    title = "Invalid cursor"
    description = "The pagination cursor is not one this service issued. Start from the first page."


class NotFound(AppError):
    status = 404
    code = "NOT_FOUND"
    title = "Not found"
    description = "No resource exists at this address, or it has been deleted."


class MethodNotAllowed(AppError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    title = "Method not allowed"
    description = "The resource exists but does not support this HTTP method."


class NotAcceptable(AppError):
    status = 406
    code = "NOT_ACCEPTABLE"
    title = "Not acceptable"
    description = "The resource has no representation in a media type the Accept header allows."


class Conflict(AppError):
    status = 409
    code = "CONFLICT"
    title = "Conflict"
    description = "The request conflicts with the current state of the resource."


class ModelRetired(Conflict):
    code = "MODEL_RETIRED"
    title = "Reference model retired"
    description = (
        "The reference model named (or the model a variant named is based on) is retired: no "
        "new analysis, assessment, report or variant uses it. Assessments stored with it still "
        "read as they were made. Name a current version, or none for the default."
    )


class Gone(AppError):
    status = 410
    code = "GONE"
    title = "Gone"
    description = (
        "What this request refers to existed but has been deleted (e.g. the resource an "
        "Idempotency-Key's first request created)."
    )


class CursorExpired(Gone):
    code = "CURSOR_EXPIRED"
    title = "Cursor expired"
    description = (
        "The change feed cursor is older than the feed's retention. Re-read everything you "
        "mirror, then follow the feed from GET /v1/changes?after=now (taken before the re-read)."
    )


class PreconditionFailed(AppError):
    status = 412
    code = "PRECONDITION_FAILED"
    title = "Precondition failed"
    description = "If-Match did not match the current version: re-read the resource and retry."


class StaleVersion(PreconditionFailed):
    """The row is at another version than the caller's If-Match; the current one is sent back
    (as the ETag) so that the caller can re-read and retry."""

    def __init__(self, detail: str, *, current_version: int) -> None:
        super().__init__(detail)
        self.current_version = current_version


class PayloadTooLarge(AppError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    title = "Payload too large"
    description = (
        "The request body exceeds the service's limit (1 MiB by default; 20 MiB for file imports)."
    )


class NestedTooDeep(BadRequest):
    code = "NESTED_TOO_DEEP"
    title = "Nested too deep"
    description = (
        "The JSON nests arrays and objects deeper than the service reads (64 levels). It was "
        "refused before it was parsed, and nothing was written."
    )


class UnsupportedMediaType(AppError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    title = "Unsupported media type"
    description = (
        "Request bodies must be JSON (Content-Type: application/json); file imports also "
        "take text/csv."
    )


class ValidationFailed(AppError):
    status = 422
    code = "VALIDATION_FAILED"
    title = "Validation failed"
    description = "One or more fields are invalid; errors[] names each field and what is wrong."


class PreconditionRequired(AppError):
    status = 428
    code = "PRECONDITION_REQUIRED"
    title = "Precondition required"
    description = "Updates and deletes need If-Match with the ETag from your last read."


class VersionRequired(PreconditionRequired):
    """Replacing a record that exists needs the version the caller read (its ETag)."""


class ServiceUnavailable(AppError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
    title = "Service unavailable"
    description = "A dependency (the database) is not ready. Retry later."


class Overloaded(ServiceUnavailable):
    code = "OVERLOADED"
    title = "Overloaded"
    description = (
        "The service is working on as many requests as it can serve quickly; this one was "
        "refused at once rather than queued. Retry after Retry-After seconds."
    )


def excerpt(text: str, limit: int = 40) -> str:
    """A caller's text as a message quotes it: the start of it, in quotes. Messages never hold
    the repr of what a caller sent (repr of a nested value recurses once a level), nor all of it
    (a message must not grow with the input it complains about)."""
    shown = text if len(text) <= limit else text[:limit] + "…"
    return f"'{shown}'"


# What a value of each kind of field looks like, by the prefix of pydantic's error type: said
# beside the value refused, so that a person can retype it without reading the schema.
_EXPECTED = (
    ("datetime", "a date and time as YYYY-MM-DDThh:mm:ssZ, e.g. 2026-12-03T09:00:00Z"),
    ("date", "a date as YYYY-MM-DD, e.g. 2026-12-03"),
    ("bool", "true or false"),
    ("int", "a whole number"),
    ("float", "a number"),
    ("uuid", "an id (a UUID, e.g. 5b0e3c1e-8f4e-4d8a-9f65-0c1d2e3f4a5b)"),
)
# Errors whose refused value is echoed: those of a value's form. Not a text's length (the value
# is the long text itself) nor a missing or unknown field (there is no value).
_ECHOED = (
    "enum",
    "literal_error",
    "value_error",
    "string_pattern_mismatch",
    "url",
    "greater",
    "less",
    "multiple_of",
    *(prefix for prefix, _ in _EXPECTED),
)
_FIXED = {
    "extra_forbidden": "Unknown field: check its spelling (fields are lowerCamelCase).",
    "missing": "This field is required.",
}


def input_message(error: Mapping[str, Any]) -> str:
    """The message of one of pydantic's validation errors, as every answer words it: what was
    expected, and the value refused (``Expected a date as YYYY-MM-DD, e.g. 2026-12-03; got
    '03/12/2026'.``). The one place that renders them, for request bodies, parameters and
    imported rows alike."""
    kind = str(error.get("type", ""))
    if kind in _FIXED:
        return _FIXED[kind]
    message = (
        str(error.get("msg", "")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    )
    ctx = error.get("ctx") or {}
    expected = next((what for prefix, what in _EXPECTED if kind.startswith(prefix)), None)
    if kind in ("enum", "literal_error") and "expected" in ctx:
        message = f"Expected one of {ctx['expected']}"
    elif expected is not None and kind.endswith(("_parsing", "_type")):
        message = f"Expected {expected}"
    message = message[:1].upper() + message[1:]
    value = error.get("input")
    if kind.startswith(_ECHOED) and isinstance(value, str | int | float) and value != "":
        return f"{message.rstrip('.')}; got {excerpt(str(value))}."
    return message if message.endswith(".") else message + "."


def all_error_kinds() -> list[type[AppError]]:
    """Every concrete kind, for the /problems pages and the documentation."""
    kinds: list[type[AppError]] = []
    pending: list[type[AppError]] = [AppError]
    while pending:
        kind = pending.pop(0)
        kinds.append(kind)
        pending.extend(kind.__subclasses__())
    return kinds


class Unauthenticated(AppError):
    status = 401
    code = "UNAUTHENTICATED"
    title = "Unauthenticated"
    description = (
        "Send a valid API key or signed token as 'Authorization: Bearer <credential>'. "
        "Missing, unknown, expired, revoked and tampered credentials all get this answer."
    )

    def __init__(self, detail: str, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        # RFC 6750: a 401 names the scheme the client should use.
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class Forbidden(AppError):
    status = 403
    code = "FORBIDDEN"
    title = "Forbidden"
    description = "The credential is valid but its role does not allow this request."


class TooManyRequests(AppError):
    status = 429
    code = "RATE_LIMITED"
    title = "Too many requests"
    description = "This credential has used its request allowance; retry after Retry-After seconds."
