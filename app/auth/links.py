"""Signed links for browsers, which cannot send a bearer header: read-only, bound to one path,
expiring in minutes, within the scope of the caller who asked for the link.

A link is an HS256 JWT keyed by ``link_secret``: a key no token issuer has, and an audience no
issuer's token carries, so neither kind of token passes for the other. A link stays valid until
it expires even if the key that asked for it is revoked meanwhile; ``link_ttl_seconds`` bounds that.
"""

import secrets
import uuid
from datetime import timedelta

import jwt

from app.auth.principal import Principal
from app.config import Settings
from app.db import utcnow
from app.errors import Unauthenticated
from app.vocabulary import PrincipalKind, Role

AUDIENCE = "lhs-signed-link"
ALGORITHM = "HS256"
QUERY_PARAMETER = "link"


class LinkSigner:
    def __init__(self, settings: Settings) -> None:
        # Unset (development only; production refuses to start): links then verify only on
        # the instance that signed them, until it restarts.
        self._secret = settings.link_secret or secrets.token_urlsafe(32)
        self.default_ttl = timedelta(seconds=settings.link_ttl_seconds)

    def sign(self, principal: Principal, path: str, ttl: timedelta | None = None) -> str:
        now = utcnow()
        claims = {
            "aud": AUDIENCE,
            "sub": principal.subject,
            "kind": principal.kind.value,
            "org": str(principal.organisation_id) if principal.organisation_id else None,
            "path": path,
            "iat": now,
            "exp": now + (ttl or self.default_ttl),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str, path: str) -> Principal:
        """The link's read-only principal, if the link is genuine, current and for ``path``."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["exp", "aud", "sub", "path"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("The link has expired; ask for a new one.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The link is not valid.") from exc
        if claims["path"] != path:
            raise Unauthenticated("The link is not valid for this page.")
        organisation = claims.get("org")
        return Principal(
            subject=str(claims["sub"]),
            kind=PrincipalKind.LINK,
            role=Role.READER,
            organisation_id=uuid.UUID(organisation) if organisation else None,
        )
