"""Authentication as pure ASGI middleware: it finds out who is calling and leaves the answer in
``scope["state"]``; it refuses nothing itself. Routes that need a caller say so with the
dependencies in ``app.auth.dependencies``, so public routes (``/_ping``, ``/docs``) stay public
even when a bad credential is sent to them.

Credentials, the first present wins: a bearer header; a signed link in ``?link=`` (GET and HEAD
only: marked for exchange, which ``app.auth.browser`` answers with a redirect and a cookie); the
link cookie, under its prefix. The cookie makes a principal for reads only; for other methods
it leaves its session in the state, for the routes that accept one with a CSRF token.
"""

import logging
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.authenticate import Authenticator
from app.auth.links import COOKIE_NAME, QUERY_PARAMETER, LinkExpired, LinkSigner
from app.auth.principal import Principal
from app.errors import Unauthenticated
from app.vocabulary import PrincipalKind, Role

logger = logging.getLogger("app.auth")

PRINCIPAL = "principal"
AUTH_ERROR = "auth_error"
# The verified link session (app.auth.links.Link) of the cookie that opens this path.
LINK_SESSION = "link_session"
# A verified ?link= to exchange for a cookie (app.auth.browser answers it).
LINK_EXCHANGE = "link_exchange"
# The refused credential was a link or a link cookie: "expired" or "invalid" (a browser is
# then shown a page that says so).
LINK_REFUSED = "link_refused"

# Everyone, when authentication is off (development only: production settings refuse that).
DEVELOPMENT = Principal(subject="development", kind=PrincipalKind.OPERATOR, role=Role.ADMIN)


class AuthenticationMiddleware:
    def __init__(
        self, app: ASGIApp, *, authenticator: Authenticator, links: LinkSigner, enabled: bool
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.links = links
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = scope.setdefault("state", {})
            try:
                principal = await self._principal(scope, state)
            except Unauthenticated as exc:
                state[AUTH_ERROR] = exc
            else:
                if principal is not None:
                    state[PRINCIPAL] = principal
        await self.app(scope, receive, send)

    async def _principal(self, scope: Scope, state: dict[str, Any]) -> Principal | None:
        if not self.enabled:
            return DEVELOPMENT
        authorization = _header(scope, b"authorization")
        if authorization is not None:
            reads = scope["app"].state.sessions.reads
            return await self.authenticator.authenticate(reads, authorization)
        method, path = scope["method"], scope["path"]
        try:
            if method in ("GET", "HEAD"):
                query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                tokens = query.get(QUERY_PARAMETER)
                if tokens:
                    link = self.links.verify(tokens[0], path)
                    # A frame gets the page as it is: a cross-site frame would neither keep
                    # nor send a SameSite=Lax cookie (docs/security.md, Framing).
                    if _header(scope, b"sec-fetch-dest") not in ("iframe", "frame"):
                        state[LINK_EXCHANGE] = link
                    return link.principal()
            cookies = link_cookies(scope)
            if cookies:
                session = self.links.verify_session(cookies, path)
                state[LINK_SESSION] = session
                return session.principal() if session.allows(method) else None
        except Unauthenticated as exc:
            state[LINK_REFUSED] = "expired" if isinstance(exc, LinkExpired) else "invalid"
            raise
        return None


def link_cookies(scope: Scope) -> list[str]:
    """Every link cookie the browser sent: one per prefix that covers the path."""
    found = []
    for key, value in scope["headers"]:
        if key == b"cookie":
            for pair in value.decode("latin-1").split(";"):
                name, _, content = pair.strip().partition("=")
                if name == COOKIE_NAME and content:
                    found.append(content.strip('"'))
    return found


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
