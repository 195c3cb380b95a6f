"""Logs: JSON lines for log shippers, aligned text for a person at a terminal, one pipeline.

Every record, ours or a library's (uvicorn, SQLAlchemy), goes through structlog's
ProcessorFormatter on one root handler, so each line has the same keys, including the request
and correlation IDs of the request it was written for. The access line (one per request) is
written by the outermost middleware, with the route template rather than the raw path's IDs, and
the caller's key prefix or token subject when access control has named one. Headers and bodies
are never logged; keys that look like credentials are redacted whatever logged them.
"""

import contextlib
import contextvars
import functools
import json
import logging
import sys
import time
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import structlog
from starlette.types import Scope
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["auto", "json", "console"]

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
correlation_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "correlation_id", default="-"
)

# Keys whose values are never written, whoever passes them to a logger.
_SECRET_KEYS = ("authorization", "password", "secret", "token", "api_key", "apikey", "cookie")
# What names a caller, in the order tried: an API key's public prefix, a token's subject.
_CALLER_FIELDS = ("key_prefix", "subject", "sub")


def install_log_record_ids() -> None:
    """Put the request and correlation IDs on every log record, whichever library logs it."""
    base = logging.getLogRecordFactory()
    if getattr(base, "adds_request_ids", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        record.request_id = request_id_var.get()
        record.correlation_id = correlation_id_var.get()
        return record

    factory.adds_request_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _request_ids(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    record = event.get("_record")
    event["request_id"] = getattr(record, "request_id", None) or request_id_var.get()
    event["correlation_id"] = getattr(record, "correlation_id", None) or correlation_id_var.get()
    return event


@functools.cache
def _secret(key: str) -> bool:
    # Cached: the same few keys come back on every line.
    return any(word in key.lower() for word in _SECRET_KEYS)


def _redact(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    for key in event:
        if _secret(key):
            event[key] = "[redacted]"
    return event


def _console(log_format: LogFormat, stream: TextIO) -> bool:
    return log_format == "console" or (log_format == "auto" and stream.isatty())


def _renderer(log_format: LogFormat, stream: TextIO) -> list[Processor]:
    if _console(log_format, stream):
        return [structlog.dev.ConsoleRenderer(colors=stream.isatty())]
    return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so reconfiguring replaces only it."""

    def write_access(self, fields: dict[str, Any]) -> bool:
        """Write an access line without a LogRecord (see ``log_request``); False if this
        handler would not write it as the record path does (not JSON, or filtered)."""
        formatter = self.formatter
        if (
            self.filters
            or self.level > logging.INFO
            or not isinstance(formatter, _Formatter)
            or not formatter.fast_json
        ):
            return False
        line = formatter.access_json(fields, created=time.time())
        try:
            with self.lock or contextlib.nullcontext():
                self.stream.write(line + self.terminator)
                self.flush()
        except Exception:  # as emit() does: a broken stream never fails the request
            self.handleError(logging.makeLogRecord({"msg": line}))
        return True


_ACCESS = "app.access"
_ACCESS_FIELDS = "access_fields"  # the LogRecord attribute that carries an access line's fields


def _timestamp(created: float) -> str:
    """As structlog's TimeStamper(fmt="iso", utc=True) writes it (``time.strftime`` cost
    7 µs a line in the service: glibc looks up the local zone on every call)."""
    return datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z")


def _access_event(fields: dict[str, Any], created: float) -> dict[str, Any]:
    """An access line's keys in the order structlog's chain writes them, but for the IDs."""
    return {
        **fields,
        "event": "request",
        "level": "info",
        "logger": _ACCESS,
        "timestamp": _timestamp(created),
    }


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter, with a short way for the access line when the output is JSON.

    The access line is written once per request, and through structlog's bound logger and
    processor chain it cost some 70 µs, a tenth of the CPU of a read of one asset. Its keys
    are fixed and none is a secret, so it is rendered here straight to the same JSON as the
    chain would write (same keys, same order, same timestamp format). Any other line, and
    every line on a terminal, goes through the chain."""

    def __init__(self, *args: Any, fast_json: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast_json = fast_json

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, _ACCESS_FIELDS, None)
        if fields is None:
            return super().format(record)
        event = _access_event(fields, record.created)
        if not self.fast_json:
            # Through the chain, as a structlog event (what its bound logger would hand over).
            record = logging.makeLogRecord(
                {**record.__dict__, "msg": event, "_logger": None, "_name": "info"}
            )
            return super().format(record)
        event["request_id"] = getattr(record, "request_id", "-")
        event["correlation_id"] = getattr(record, "correlation_id", "-")
        return json.dumps(event)

    def access_json(self, fields: dict[str, Any], *, created: float) -> str:
        """The line ``format`` writes for an access record, from its fields alone."""
        event = _access_event(fields, created)
        event["request_id"] = request_id_var.get()
        event["correlation_id"] = correlation_id_var.get()
        return json.dumps(event)


def configure_logging(
    level: str, log_format: LogFormat = "auto", stream: TextIO | None = None
) -> logging.Handler:
    """Route every logger through one formatter on the root logger; returns its handler."""
    install_log_record_ids()
    stream = stream or sys.stderr
    before: list[Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *before,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _OurHandler(stream)
    handler.setFormatter(
        _Formatter(
            fast_json=not _console(log_format, stream),
            foreign_pre_chain=before,
            processors=[
                _request_ids,
                _redact,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *_renderer(log_format, stream),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _OurHandler)] + [handler]
    logging.getLogger("app").setLevel(level)
    # uvicorn configured its loggers before importing the app: send them through ours too,
    # except its access log when it was turned off (--no-access-log: ours replaces it).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        enabled = bool(uvicorn_logger.handlers) or uvicorn_logger.propagate
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = enabled
    return handler


def _user_agent(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"user-agent":
            return str(value[:USER_AGENT_CHARS].decode("latin-1"))
    return None


def caller(scope: Scope) -> str | None:
    """Who made the request, as access control recorded it in the request state: an API key's
    prefix or a token's subject. Any other shape is not guessed at (it might hold a secret)."""
    state = scope.get("state")
    principal = state.get("principal") if isinstance(state, MutableMapping) else None
    if principal is None or isinstance(principal, str):
        return principal
    for field in _CALLER_FIELDS:
        if isinstance(principal, Mapping):
            value = principal.get(field)
        else:
            value = getattr(principal, field, None)
        if isinstance(value, str) and value:
            return value
    return None


access_log = logging.getLogger(_ACCESS)


def _only_our_handler() -> _OurHandler | None:
    """Our handler, when it is the one place an access line goes: no handler or filter on
    the way up from ``app.access`` but ours on the root logger (as configure_logging leaves
    it; a test's log capture, or an operator's extra handler, adds another)."""
    logger: logging.Logger | None = access_log
    while logger is not None and logger is not logging.root:
        if logger.handlers or logger.filters or not logger.propagate:
            return None
        logger = logger.parent
    root = logging.root
    if root.filters or len(root.handlers) != 1:
        return None
    handler = root.handlers[0]
    return handler if isinstance(handler, _OurHandler) else None


# Where a problem's code is left in the request state (app.http.problems), for the access line.
PROBLEM_CODE = "problem_code"
# A client's User-Agent is written as far as this: enough to tell clients apart, never a
# line a caller can make as long as it likes.
USER_AGENT_CHARS = 200


def log_request(scope: Scope, *, route: str, status: int, seconds: float, size: int = 0) -> None:
    """The one access line per request: who and what (the client's address, as the edge
    resolved it from trusted proxies; the user agent; the response's size in bytes; for a
    problem, its code), never another header, a query string or a body.

    When our handler is its only destination, the line is written straight to it: a
    LogRecord (with the thread and process names it looks up) and the trip through the
    logging machinery cost more than the line, some 40 µs of a 330 µs authenticated request.
    Otherwise it is a plain logging record that filters, levels and every handler see, and
    that our formatter renders without structlog's chain; the line is the same either way."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    fields: dict[str, Any] = {
        "method": scope["method"],
        "path": scope["path"],
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "bytes": size,
    }
    client = scope.get("client")
    if client:
        fields["client"] = client[0]
    agent = _user_agent(scope)
    if agent is not None:
        fields["user_agent"] = agent
    state = scope.get("state")
    code = state.get(PROBLEM_CODE) if isinstance(state, MutableMapping) else None
    if code is not None and status >= 400:
        fields["code"] = code
    principal = caller(scope)
    if principal is not None:
        fields["principal"] = principal
    handler = _only_our_handler()
    if handler is not None and handler.write_access(fields):
        return
    record = access_log.makeRecord(
        _ACCESS, logging.INFO, __file__, 0, "request", (), None, extra={_ACCESS_FIELDS: fields}
    )
    access_log.handle(record)
