"""Pure ASGI middleware (no BaseHTTPMiddleware: it buffers and costs a task per request)."""

import logging
import re
import time
import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import AppError, BadRequest, PayloadTooLarge
from app.http.metrics import observe_request
from app.http.problems import database_problem, problem_response
from app.http.routes import route_template
from app.logs import correlation_id_var, log_request, request_id_var

logger = logging.getLogger("app.errors")

# A caller's ID is echoed into headers and logs: keep it to a safe, bounded alphabet.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            text = value.decode("latin-1")
            return text if _SAFE_ID.match(text) else None
    return None


class RequestIdMiddleware:
    """Accept X-Request-ID / X-Correlation-ID, generate them when absent, echo them always,
    and account for the request: the access log line (uvicorn's own cannot carry the IDs, so
    it is turned off) and the request metrics, both with the final status, even of a 500
    rendered here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        correlation_id = _header(scope, b"x-correlation-id") or request_id
        scope.setdefault("state", {})["request_id"] = request_id
        tokens = (request_id_var.set(request_id), correlation_id_var.set(correlation_id))

        status = 500
        began = time.perf_counter()

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-correlation-id", correlation_id.encode()))
                message["headers"] = headers
            await send(message)

        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_ids(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            # Rendered here, inside the ID middleware, so even a 500 carries X-Request-ID.
            if started:
                raise
            error = exc if isinstance(exc, AppError) else database_problem(exc)
            if error is None:
                logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
                error = AppError(
                    "The service failed unexpectedly; quote the traceId when reporting."
                )
            response = problem_response(error, scope)
            await response(scope, receive, send_with_ids)
        finally:
            seconds = time.perf_counter() - began
            route = route_template(scope)
            observe_request(scope["method"], route, status, seconds)
            log_request(scope, route=route, status=status, seconds=seconds)
            request_id_var.reset(tokens[0])
            correlation_id_var.reset(tokens[1])


class BodySizeLimitMiddleware:
    """Refuse bodies over the limit with 413, by Content-Length or by counting the stream.

    Paths matching ``large_paths`` (file imports) have a limit of their own, ``large_bytes``,
    and their body is counted as the route reads it, never held here: those routes read the
    stream themselves, so the 413 raised mid-stream reaches the caller as a problem."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        large_paths: re.Pattern[str] | None = None,
        large_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.large_paths = large_paths
        self.large_bytes = large_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        large = self.large_paths is not None and bool(self.large_paths.match(scope["path"]))
        limit = self.large_bytes if large else self.max_bytes
        for key, value in scope["headers"]:
            if key == b"content-length":
                if value.isdigit() and int(value) > limit:
                    raise PayloadTooLarge(self._detail(limit))
                await self.app(scope, receive, send)  # the server enforces Content-Length
                return
        if large:
            await self.app(scope, self._counting(receive, limit), send)
            return
        # No Content-Length (chunked): read the body here, up to the limit, then replay it. An
        # error raised inside the app's own body reading would be reported as a parse error.
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLarge(self._detail(limit))
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replaying_receive() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replaying_receive, send)

    def _counting(self, receive: Receive, limit: int) -> Receive:
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(self._detail(limit))
            return message

        return counting_receive

    @staticmethod
    def _detail(limit: int) -> str:
        return f"The request body exceeds {limit} bytes."


class HeadMiddleware:
    """HEAD is GET without the body (RFC 9110 requires it wherever GET is served)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


class HostMiddleware:
    """Refuse requests for hosts this service does not serve (400 problem), and build every
    absolute URL (Location, links, Link) from the configured public base URL when there is one,
    never from whatever Host a client sent.

    Starlette's TrustedHostMiddleware does the first part but answers in plain text; this
    answers like every other refusal here (problem+json). Proxy headers (X-Forwarded-*) are
    uvicorn's job, and it trusts them only from --forwarded-allow-ips."""

    def __init__(
        self, app: ASGIApp, *, allowed_hosts: Sequence[str], public_base_url: str | None
    ) -> None:
        self.app = app
        self.allow_any = "*" in allowed_hosts
        self.exact = {h.lower() for h in allowed_hosts if not h.startswith("*.")}
        self.suffixes = tuple(h[1:].lower() for h in allowed_hosts if h.startswith("*."))
        self.public = urlsplit(public_base_url) if public_base_url else None

    def _allowed(self, host: str) -> bool:
        name = host.lower()
        name = name.rsplit(":", 1)[0] if not name.endswith("]") else name
        return self.allow_any or name in self.exact or name.endswith(self.suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if not self._allowed(host):
            error = BadRequest("This service does not answer for that Host.")
            await problem_response(error, scope)(scope, receive, send)
            return
        if self.public is not None:
            # Scheme and host only: a path prefix is the proxy's (uvicorn --root-path).
            public_host = self.public.netloc.encode("latin-1")
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
            scope = {
                **scope,
                "scheme": self.public.scheme,
                "headers": [(b"host", public_host), *headers],
            }
        await self.app(scope, receive, send)
