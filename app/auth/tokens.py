"""Bearer JWTs from configured issuers: signature, issuer, audience, expiry and not-before
checked; algorithms pinned (never ``none``, never an HMAC keyed by a public key); role and
organisation scope read from named claims."""

import base64
import binascii
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import jwt

from app import json_input
from app.auth.jwks import Jwks, JwksUnavailable
from app.auth.principal import Principal
from app.config import Settings
from app.errors import AppError, PayloadTooLarge, Unauthenticated, excerpt
from app.vocabulary import PrincipalKind, Role

_ODS_CODE = re.compile(r"[A-Za-z0-9]{1,9}")
# Far above a real token with many claims (a few kilobytes), far below what hurts to parse.
MAX_TOKEN_CHARS = 32_768

# Looks an ODS code up; None when no organisation has it.
OdsResolver = Callable[[str], Awaitable[uuid.UUID | None]]


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.algorithms = list(settings.jwt_algorithms)
        self.issuers = {
            issuer.issuer: (
                issuer,
                Jwks(issuer, algorithms=self.algorithms, ttl=settings.jwks_cache_seconds),
            )
            for issuer in settings.jwt_issuers
        }

    async def verify(self, token: str, resolve_ods: OdsResolver) -> Principal:
        try:
            _within_bounds(token)
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, AppError) as exc:
            raise Unauthenticated("The bearer token is malformed.") from exc
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            shown = excerpt(algorithm) if isinstance(algorithm, str) else "no algorithm"
            raise Unauthenticated(
                f"Tokens signed with {shown} are not accepted; {' or '.join(self.algorithms)} are."
            )
        issuer_name = unverified.get("iss")
        entry = self.issuers.get(issuer_name) if isinstance(issuer_name, str) else None
        if entry is None:
            raise Unauthenticated("The token's issuer is not trusted by this service.")
        issuer, jwks = entry
        try:
            key = await jwks.key_for(header.get("kid"), algorithm)
        except JwksUnavailable as exc:
            raise Unauthenticated("The token issuer's keys cannot be read; retry later.") from exc
        if key is None:
            raise Unauthenticated("The token was not signed by a key of its issuer.")
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=self.settings.jwt_audience,
                issuer=issuer.issuer,
                leeway=self.settings.jwt_leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("The token has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthenticated("The token is not valid yet.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"The token was refused: {_reason(exc)}.") from exc
        role = _role(claims.get(self.settings.jwt_role_claim))
        if role is None:
            raise Unauthenticated(
                f"The token carries no role ({self.settings.jwt_role_claim!r} claim)."
            )
        scope = await self._scope(claims, issuer.allow_global, resolve_ods)
        return Principal(
            subject=str(claims["sub"]),
            kind=PrincipalKind.TOKEN,
            role=role,
            organisation_id=scope,
            issuer=issuer.issuer,
        )

    async def _scope(
        self, claims: dict[str, Any], allow_global: bool, resolve_ods: OdsResolver
    ) -> uuid.UUID | None:
        claim = self.settings.jwt_organisation_claim
        value = claims.get(claim)
        if value is None:
            if allow_global:
                return None
            # Fail closed: a missing claim must not silently mean "the whole service".
            raise Unauthenticated(f"The token names no organisation ({claim!r} claim).")
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                if _ODS_CODE.fullmatch(value):
                    found = await resolve_ods(value.upper())
                    if found is not None:
                        return found
        raise Unauthenticated(f"The token's {claim!r} claim names no known organisation.")


def _within_bounds(token: str) -> None:
    """The header and payload are JSON a caller wrote: bounded in size and depth (app.json_input)
    before PyJWT parses them; NestedTooDeep or PayloadTooLarge otherwise."""
    if len(token) > MAX_TOKEN_CHARS:
        raise PayloadTooLarge(f"The bearer token is over {MAX_TOKEN_CHARS} characters.")
    for segment in token.split(".", 2)[:2]:
        try:
            raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        except (binascii.Error, ValueError):
            return  # PyJWT refuses it as malformed
        json_input.check(raw)


_ROLE_NAMES = frozenset(role.value for role in Role)


def _role(value: Any) -> Role | None:
    """The claim may be one role or a list of them: the strongest recognised one counts."""
    names = value if isinstance(value, list) else [value]
    roles = [Role(name) for name in names if isinstance(name, str) and name in _ROLE_NAMES]
    return max(roles, key=lambda role: role.rank) if roles else None


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.InvalidAudienceError):
        return "it is meant for another audience"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "wrong issuer"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "the signature does not match"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the {exc.claim!r} claim is missing"
    return "it is not a valid token"
