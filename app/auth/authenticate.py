"""From an ``Authorization`` header to a Principal, or ``Unauthenticated``.

API keys: one indexed lookup by prefix, a constant-time hash comparison, expiry and revocation
checked; a verified key is then remembered for ``api_key_cache_seconds`` (see keycache).
Anything else after ``Bearer`` is treated as a JWT from a configured issuer.
"""

import uuid
from datetime import datetime

from cachetools import TTLCache

from app import caches
from app.auth import keycache, keys, queries
from app.auth.principal import Principal
from app.auth.tokens import TokenVerifier
from app.auth.usage import UsageRecorder
from app.config import Settings
from app.db import ReadContext, fetch, utcnow
from app.errors import Unauthenticated
from app.vocabulary import PrincipalKind, Role


class Authenticator:
    """One per application instance: it holds the key cache and the issuers' key sets."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache = keycache.KeyCache(settings.api_key_cache_seconds)
        # Keys' lastUsedAt, noted by the routes that act for a caller (app.auth.dependencies).
        self.usage = UsageRecorder()
        self.tokens = TokenVerifier(settings)
        self._ods: TTLCache[str, uuid.UUID] = keycache.ods_codes()

    async def authenticate(self, reads: ReadContext, authorization: str | None) -> Principal:
        credential = bearer(authorization)
        if keys.looks_like_key(credential):
            return await self._api_key(reads, credential)

        async def resolve_ods(code: str) -> uuid.UUID | None:
            return await self._resolve_ods(reads, code)

        return await self.tokens.verify(credential, resolve_ods)

    async def _api_key(self, reads: ReadContext, credential: str) -> Principal:
        parsed = keys.parse(credential)
        if parsed is None:
            raise Unauthenticated("The API key is malformed.")
        prefix, secret = parsed
        cached = self.cache.get(prefix)
        if cached is not None and keys.accepts(
            secret, cached.secret_hash, cached.previous_hash, cached.previous_until, now=utcnow()
        ):
            principal = cached.principal
            _check_expiry(cached.expires_at)
        else:
            # A secret the cache does not know may be one a rotation on another instance just
            # made: the database decides.
            principal = await self._verify(reads, prefix, secret)
        return principal

    async def _verify(self, reads: ReadContext, prefix: str, secret: str) -> Principal:
        rows = await fetch(reads, queries.KEY_BY_PREFIX, {"prefix": prefix})
        row = rows[0] if rows else None
        # The same answer for an unknown prefix and a wrong secret: nothing to learn from it.
        if row is None or not keys.accepts(
            secret,
            row["secret_hash"],
            row["previous_secret_hash"],
            row["previous_secret_expires_at"],
            now=utcnow(),
        ):
            raise Unauthenticated("The API key is not valid.")
        if row["revoked_at"] is not None:
            raise Unauthenticated("The API key has been revoked.")
        _check_expiry(row["expires_at"])
        principal = Principal(
            subject=row["prefix"],
            kind=PrincipalKind.API_KEY,
            role=Role(row["role"]),
            organisation_id=row["organisation_id"],
            key_id=row["id"],
        )
        self.cache.put(
            prefix,
            principal,
            row["secret_hash"],
            row["expires_at"],
            row["previous_secret_hash"],
            row["previous_secret_expires_at"],
        )
        return principal

    async def _resolve_ods(self, reads: ReadContext, code: str) -> uuid.UUID | None:
        known = caches.hit(self._ods, code)
        if known is not None:
            return known
        rows = await fetch(reads, queries.ORGANISATION_BY_ODS_CODE, {"ods_code": code})
        found: uuid.UUID | None = rows[0]["id"] if rows else None
        if found is not None:
            self._ods[code] = found
        return found


def bearer(authorization: str | None) -> str:
    """The credential of an ``Authorization: Bearer <credential>`` header."""
    if not authorization:
        raise Unauthenticated("This request needs credentials: 'Authorization: Bearer <key>'.")
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthenticated("Use the Bearer scheme: 'Authorization: Bearer <key>'.")
    return credential


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= utcnow():
        raise Unauthenticated("The API key has expired.")
