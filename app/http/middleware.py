"""The edge: one pure ASGI layer, outermost, that every HTTP request meets first and every
answer passes last (no BaseHTTPMiddleware: it buffers and costs a task per request).

It was six layers (request IDs, security headers, Host, HEAD, body size, and one that
copied the matched route out of the copies of the scope the others passed on); each pure ASGI
layer costs a coroutine frame per request and a wrapper call per message sent, some 10% of the
CPU of a read of one asset together. One scope now goes down, and the route is read where
routing leaves it. That scope is a copy of the server's: the server reads its own back as it
frames the answer (uvicorn sends no body, and no chunked framing, when its scope says HEAD), so
nothing here or below may change the one it was given. Each concern is still a piece of its own
below, applied by the one layer in a fixed order:

0. the client's address and scheme, from X-Forwarded-For and -Proto, when the connection comes
   from a proxy the operator configured (``LHS_FORWARDED_ALLOW_IPS``) and only then;
1. the request and correlation IDs (echoed on every answer, in every log line);
2. the Host it was sent to must be one this service answers for;
3. a body over the limit is refused;
4. HEAD is answered as GET without the body;
5. security headers and the contract's API-Version on every answer;
6. an error nothing inside rendered becomes a problem response, with all of the above;
7. the access line and the request metrics, with the final status.
"""

import logging
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import app as package
from app.auth.headers import SecurityHeaders, cors_options
from app.config import Settings
from app.errors import AppError, BadRequest, PayloadTooLarge
from app.http.metrics import observe_request
from app.http.problems import database_problem, problem_response
from app.http.routes import route_template
from app.logs import correlation_id_var, log_request, request_id_var

logger = logging.getLogger("app.errors")

# The contract's version (the document's info.version) on every answer, errors included:
# built once, so the hot path only appends it.
API_VERSION_HEADER = (b"api-version", package.API_VERSION.encode())

# A caller's ID is echoed into headers and logs: keep it to a safe, bounded alphabet.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            text = value.decode("latin-1")
            return text if _SAFE_ID.match(text) else None
    return None


_MORE_HEADERS = "response_headers"


def add_response_headers(scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
    """Headers for whatever answer this request gets, refusals and errors included, added by
    the edge as it sends them: a layer that only adds headers needs no send wrapper of its
    own (a call per message sent)."""
    scope.setdefault("state", {}).setdefault(_MORE_HEADERS, []).extend(headers)


def install_edge(app: FastAPI, settings: Settings, *, large_paths: re.Pattern[str]) -> None:
    """Add last: CORS (when browser origins are configured), then the edge around it all."""
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, **cors_options(settings))
    app.add_middleware(
        EdgeMiddleware,
        hosts=HostPolicy(
            allowed_hosts=settings.allowed_hosts, public_base_url=settings.public_base_url
        ),
        body=BodyLimit(
            max_bytes=settings.max_body_bytes,
            large_paths=large_paths,
            large_bytes=settings.max_import_bytes,
        ),
        headers=SecurityHeaders(frame_ancestors=settings.frame_ancestors),
        proxies=settings.forwarded_allow_ips,
    )


class EdgeMiddleware:
    """See the module docstring. The access line is ours (uvicorn's own cannot carry the IDs,
    so it is turned off); it and the metrics name the method the caller sent (HEAD too)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: "HostPolicy",
        body: "BodyLimit",
        headers: SecurityHeaders,
        proxies: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.body = body
        self.headers = headers
        self.handle: ASGIApp = self._handle
        if proxies:
            # uvicorn's own rules (the rightmost address not a trusted proxy is the client),
            # applied to our copy of the scope before anything reads the client or scheme.
            # (Typed with uvicorn's TypedDicts: the same ASGI, spelled differently.)
            handle: Any = self._handle
            proxied: Any = ProxyHeadersMiddleware(handle, trusted_hosts=list(proxies))
            self.handle = proxied

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Everything below works on a copy: see the module docstring.
        await self.handle(dict(scope), receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        correlation_id = _header(scope, b"x-correlation-id") or request_id
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        tokens = (request_id_var.set(request_id), correlation_id_var.set(correlation_id))
        ids = [
            (b"x-request-id", request_id.encode()),
            (b"x-correlation-id", correlation_id.encode()),
            API_VERSION_HEADER,
        ]
        secure = self.headers.begin(scope)
        head = method == "HEAD"
        status = 500
        started = False
        sent = 0  # body bytes, as they went out (none for HEAD)
        began = time.perf_counter()

        async def edge_send(message: Message) -> None:
            nonlocal status, started, sent
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                more = state.get(_MORE_HEADERS, ())
                message["headers"] = secure([*message.get("headers", []), *ids, *more])
            elif message["type"] == "http.response.body":
                if head:
                    message = {**message, "body": b""}
                sent += len(message.get("body", b""))
            await send(message)

        try:
            self.hosts.admit(scope)
            if head:
                # HEAD is GET without the body (RFC 9110 requires it wherever GET is served);
                # the server, whose scope still says HEAD, frames the answer as one.
                scope["method"] = "GET"
            await self.app(scope, await self.body.admit(scope, receive), edge_send)
        except Exception as exc:
            # Rendered here, so even a 500 carries the IDs and the security headers.
            if started:
                raise
            error = exc if isinstance(exc, AppError) else database_problem(exc)
            if error is None:
                logger.exception("unhandled error on %s %s", method, scope["path"])
                error = AppError(
                    "The service failed unexpectedly; quote the traceId when reporting."
                )
            await problem_response(error, scope)(scope, receive, edge_send)
        finally:
            seconds = time.perf_counter() - began
            scope["method"] = method  # the access line and the metrics name the method sent
            route = route_template(scope)
            observe_request(method, route, status, seconds)
            log_request(scope, route=route, status=status, seconds=seconds, size=sent)
            request_id_var.reset(tokens[0])
            correlation_id_var.reset(tokens[1])


class BodyLimit:
    """Refuse bodies over the limit with 413, by Content-Length or by counting the stream.

    Paths matching ``large_paths`` (file imports) have a limit of their own, ``large_bytes``,
    and their body is counted as the route reads it, never held here: those routes read the
    stream themselves, so the 413 raised mid-stream reaches the caller as a problem."""

    def __init__(
        self, *, max_bytes: int, large_paths: re.Pattern[str] | None = None, large_bytes: int = 0
    ) -> None:
        self.max_bytes = max_bytes
        self.large_paths = large_paths
        self.large_bytes = large_bytes

    async def admit(self, scope: Scope, receive: Receive) -> Receive:
        """The request's body as the app is to read it; PayloadTooLarge if it is too big."""
        large = self.large_paths is not None and bool(self.large_paths.match(scope["path"]))
        limit = self.large_bytes if large else self.max_bytes
        for key, value in scope["headers"]:
            if key == b"content-length":
                if value.isdigit() and int(value) > limit:
                    raise PayloadTooLarge(self._detail(limit))
                return receive  # the server enforces Content-Length
        if scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            return receive  # no body to count: nothing is read ahead of the app
        if large:
            return self._counting(receive, limit)
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

        return replaying_receive

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


class HostPolicy:
    """Refuse requests for hosts this service does not serve (400 problem), and build every
    absolute URL (Location, links, Link) from the configured public base URL when there is one,
    never from whatever Host a client sent.

    Starlette's TrustedHostMiddleware does the first part but answers in plain text; this
    answers like every other refusal here (problem+json). Proxy headers (X-Forwarded-*) are
    trusted only from the addresses in LHS_FORWARDED_ALLOW_IPS (the edge applies them)."""

    def __init__(self, *, allowed_hosts: Sequence[str], public_base_url: str | None) -> None:
        self.allow_any = "*" in allowed_hosts
        self.exact = {h.lower() for h in allowed_hosts if not h.startswith("*.")}
        self.suffixes = tuple(h[1:].lower() for h in allowed_hosts if h.startswith("*."))
        self.public = urlsplit(public_base_url) if public_base_url else None

    def _allowed(self, host: str) -> bool:
        name = host.lower()
        name = name.rsplit(":", 1)[0] if not name.endswith("]") else name
        return self.allow_any or name in self.exact or name.endswith(self.suffixes)

    def admit(self, scope: Scope) -> None:
        """BadRequest for a Host not served; else point the request at the public base URL."""
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if not self._allowed(host):
            raise BadRequest("This service does not answer for that Host.")
        if self.public is not None:
            # Scheme and host only: a path prefix is the proxy's (uvicorn --root-path).
            public_host = self.public.netloc.encode("latin-1")
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
            scope["scheme"] = self.public.scheme
            scope["headers"] = [(b"host", public_host), *headers]
