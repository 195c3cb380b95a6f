"""Authentication as pure ASGI middleware: it finds out who is calling and leaves the answer in
``scope["state"]``; it refuses nothing itself. Routes that need a caller say so with the
dependencies in ``app.auth.dependencies``, so public routes (``/_ping``, ``/docs``) stay public
even when a bad credential is sent to them.
"""

import logging
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.authenticate import Authenticator
from app.auth.links import QUERY_PARAMETER, LinkSigner
from app.auth.principal import Principal
from app.errors import Unauthenticated
from app.vocabulary import PrincipalKind, Role

logger = logging.getLogger("app.auth")

PRINCIPAL = "principal"
AUTH_ERROR = "auth_error"

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
                principal = await self._principal(scope)
            except Unauthenticated as exc:
                state[AUTH_ERROR] = exc
            else:
                if principal is not None:
                    state[PRINCIPAL] = principal
        await self.app(scope, receive, send)

    async def _principal(self, scope: Scope) -> Principal | None:
        if not self.enabled:
            return DEVELOPMENT
        authorization = _header(scope, b"authorization")
        if authorization is not None:
            reads = scope["app"].state.sessions.reads
            return await self.authenticator.authenticate(reads, authorization)
        if scope["method"] in ("GET", "HEAD"):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            tokens = query.get(QUERY_PARAMETER)
            if tokens:
                return self.links.verify(tokens[0], scope["path"])
        return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
