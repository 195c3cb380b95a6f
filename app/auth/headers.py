"""Security headers on every response, and CORS for the browser origins in settings.

Applied by the outermost layer, so that every answer, errors and refusals included, carries
them. The ``Server`` header is not ours to remove: uvicorn adds it after the app, so it is run
with ``--no-server-header``.
"""

import secrets
from collections.abc import Callable, Sequence
from typing import Any

from starlette.types import Scope

from app.auth.links import COOKIE_NAME
from app.config import Settings

CSP_NONCE = "csp_nonce"
RawHeaders = list[tuple[bytes, bytes]]
HSTS = b"max-age=31536000; includeSubDomains"

# What browser code calling the API may send and read.
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "Idempotency-Key",
    "X-Request-ID",
    "X-Correlation-ID",
]
CORS_RESPONSE_HEADERS = [
    "API-Version",
    "ETag",
    "Link",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Idempotent-Replayed",
    "X-Request-ID",
    "X-Correlation-ID",
]


def content_security_policy(
    nonce: str, frame_ancestors: Sequence[str], *, styles: Sequence[str] = ()
) -> str:
    """For our HTML pages: assets from this origin only, inline code only with the request's
    nonce (or, for a static style block, its hash), framable only by the configured portals."""
    nonce_source = f"'nonce-{nonce}'"
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {nonce_source}",
            " ".join(["style-src 'self'", nonce_source, *styles]),
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {' '.join(frame_ancestors) or chr(39) + 'none' + chr(39)}",
        ]
    )


class SecurityHeaders:
    """nosniff and no referrer everywhere; ``no-store`` on answers to a credentialed request;
    HSTS over HTTPS only; a CSP on HTML. A page that sets its own CSP keeps it. Applied by the
    edge layer (app.http.middleware), which every answer passes."""

    def __init__(self, *, frame_ancestors: Sequence[str]) -> None:
        self.frame_ancestors = list(frame_ancestors)

    def begin(self, scope: Scope) -> Callable[[RawHeaders], RawHeaders]:
        """Prepare for one request (its CSP nonce, for the pages it renders); returns what
        turns its response headers into the ones sent."""
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})[CSP_NONCE] = nonce
        link_cookie = COOKIE_NAME.encode() + b"="
        credentialed = any(
            key == b"authorization" or (key == b"cookie" and link_cookie in value)
            for key, value in scope["headers"]
        ) or (b"link=" in scope.get("query_string", b""))
        https = scope.get("scheme") == "https"
        return lambda raw: self._headers(raw, nonce, credentialed=credentialed, https=https)

    def _headers(
        self, raw: RawHeaders, nonce: str, *, credentialed: bool, https: bool
    ) -> RawHeaders:
        drop = {b"server", b"x-content-type-options", b"referrer-policy"}
        if credentialed:
            drop.add(b"cache-control")  # private data is never kept by a cache
        headers = [(k, v) for k, v in raw if k.lower() not in drop]
        names = {k.lower() for k, _ in headers}
        headers.append((b"x-content-type-options", b"nosniff"))
        headers.append((b"referrer-policy", b"no-referrer"))
        if credentialed:
            headers.append((b"cache-control", b"no-store"))
        if https:
            headers.append((b"strict-transport-security", HSTS))
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        if content_type.startswith(b"text/html") and b"content-security-policy" not in names:
            policy = content_security_policy(nonce, self.frame_ancestors)
            headers.append((b"content-security-policy", policy.encode()))
        return headers


def cors_options(settings: Settings) -> dict[str, Any]:
    """Starlette CORSMiddleware options. Credentials (cookies) are never allowed: callers send
    bearer headers, which need no credentialed CORS, so a wildcard origin can never leak them."""
    return {
        "allow_origins": settings.cors_origins,
        "allow_methods": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        "allow_headers": CORS_REQUEST_HEADERS,
        "expose_headers": CORS_RESPONSE_HEADERS,
        "allow_credentials": False,
        "max_age": 600,
    }
