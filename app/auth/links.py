"""Signed links for browsers, which cannot send a bearer header: who minted the link, for whom
(an optional respondent's name), what it allows, the path prefix it opens, and until when.

A link is an HS256 JWT keyed by ``link_secret``: a key no token issuer has, and an audience no
issuer's token carries, so neither kind of token passes for the other. A browser exchanges the
link for a session token (another audience, so neither passes for the other either) kept in a
cookie limited to the link's prefix: the link itself then leaves the address bar and history.
A link stays valid until it expires even if the key that asked for it is revoked meanwhile;
``link_ttl_seconds`` bounds that, and no session outlives its link.

Nothing is stored on the server: every instance that shares ``link_secret`` verifies links,
sessions and CSRF tokens alike.
"""

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt

from app.auth.principal import Principal
from app.config import Settings
from app.db import utcnow
from app.errors import FieldIssue, Forbidden, Unauthenticated, ValidationFailed
from app.vocabulary import PrincipalKind, Role

AUDIENCE = "lhs-signed-link"
SESSION_AUDIENCE = "lhs-link-session"
ALGORITHM = "HS256"
QUERY_PARAMETER = "link"
COOKIE_NAME = "lhs_link"
RESPONDENT_MAX_LENGTH = 100


class LinkAction(StrEnum):
    """What a link lets its holder do under its prefix."""

    READ = "read"  # GET and HEAD
    ANSWER = "answer"  # a respondent's answers to a self-assessment's questionnaire pages
    MODERATE = "moderate"  # a moderator's decisions on those answers, on its moderation pages


# Actions a route checks. Any other is refused when minting, so a link never carries a right
# that nothing checks.
MINTABLE: frozenset[LinkAction] = frozenset(
    {LinkAction.READ, LinkAction.ANSWER, LinkAction.MODERATE}
)
SAFE_METHODS = frozenset({"GET", "HEAD"})


class LinkExpired(Unauthenticated):
    """A genuine link or session whose time is up: a person is told so, not that it is bad.
    The same problem (401 UNAUTHENTICATED) as every other refused credential."""


@dataclass(frozen=True, slots=True)
class Link:
    """A verified link or session: whose it is and what it opens."""

    subject: str
    kind: PrincipalKind  # who minted it: api_key, token or operator
    organisation_id: uuid.UUID | None
    issuer: str | None
    respondent: str | None
    actions: frozenset[LinkAction]
    prefix: str
    expires_at: datetime
    jti: str

    def covers(self, path: str) -> bool:
        """Under the prefix as a cookie's Path matches (RFC 6265 5.1.4): the prefix itself, or
        below it at a ``/``, so ``/report`` never opens ``/reports``."""
        return path == self.prefix or path.startswith(self.prefix.rstrip("/") + "/")

    def allows(self, method: str) -> bool:
        """Only reads, by method: any other action is checked by the route that serves it."""
        return method in SAFE_METHODS and LinkAction.READ in self.actions

    def principal(self) -> Principal:
        """A reader with the minter's scope: a link never widens what its minter could see."""
        return Principal(
            subject=self.subject,
            kind=PrincipalKind.LINK,
            role=Role.READER,
            organisation_id=self.organisation_id,
            issuer=self.issuer,
        )

    def acting(self, action: LinkAction) -> Principal:
        """Who a page's form acts as under ``action`` (answer, moderate): an editor within the
        minter's scope. Only an editor or admin may mint those actions, and the prefix keeps
        the link to one self-assessment's pages, so the link lends no more than its minter had
        (``respondent`` then says which person, of those the minter sent links to, it was)."""
        if action not in self.actions or action is LinkAction.READ:
            raise Forbidden(f"The link does not allow {action}.")
        return Principal(
            subject=self.subject,
            kind=PrincipalKind.LINK,
            role=Role.EDITOR,
            organisation_id=self.organisation_id,
            issuer=self.issuer,
        )


class LinkSigner:
    def __init__(self, settings: Settings) -> None:
        # Unset (development only; production refuses to start): links then verify only on
        # the instance that signed them, until it restarts.
        self._secret = settings.link_secret or secrets.token_urlsafe(32)
        self.default_ttl = timedelta(seconds=settings.link_ttl_seconds)
        self.session_ttl = timedelta(seconds=settings.link_cookie_seconds)

    def sign(
        self,
        principal: Principal,
        prefix: str,
        *,
        actions: Iterable[LinkAction] = (LinkAction.READ,),
        respondent: str | None = None,
        ttl: timedelta | None = None,
    ) -> str:
        """A link opening ``prefix`` for ``actions``, as ``principal``, for ``ttl``."""
        wanted = sorted(set(actions))
        reserved = [action.value for action in wanted if action not in MINTABLE]
        if not wanted or reserved:
            raise ValidationFailed(
                "A link allows at least one action, and only those a page checks.",
                errors=[FieldIssue("actions", f"Not allowed: {', '.join(reserved) or 'none'}.")],
            )
        now = utcnow()
        claims = {
            "aud": AUDIENCE,
            "sub": principal.subject,
            "kind": principal.kind.value,
            "org": str(principal.organisation_id) if principal.organisation_id else None,
            "issuer": principal.issuer,
            "respondent": respondent,
            "actions": [action.value for action in wanted],
            "prefix": prefix,
            "iat": now,
            "exp": now + (ttl or self.default_ttl),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(_present(claims), self._secret, algorithm=ALGORITHM)

    def verify(self, token: str, path: str) -> Link:
        """The link, if it is genuine, current and opens ``path``."""
        return self._verify(token, AUDIENCE, path)

    def open_session(self, link: Link) -> tuple[str, int]:
        """The session token a browser keeps in its cookie, and its lifetime in seconds: the
        link's remaining time, at most ``link_cookie_seconds``. A fresh ``jti``, so each
        exchange has CSRF tokens of its own."""
        now = utcnow()
        expires = min(link.expires_at, now + self.session_ttl)
        claims = {
            "aud": SESSION_AUDIENCE,
            "sub": link.subject,
            "kind": link.kind.value,
            "org": str(link.organisation_id) if link.organisation_id else None,
            "issuer": link.issuer,
            "respondent": link.respondent,
            "actions": sorted(action.value for action in link.actions),
            "prefix": link.prefix,
            "iat": now,
            "exp": expires,
            "jti": uuid.uuid4().hex,
        }
        seconds = max(1, int((expires - now).total_seconds()))
        return jwt.encode(_present(claims), self._secret, algorithm=ALGORITHM), seconds

    def verify_session(self, tokens: Sequence[str], path: str) -> Link:
        """The session of the cookies a browser sent that opens ``path`` (the most specific,
        when several do). Refused when none does: the first reason found is given."""
        found: list[Link] = []
        refusal: Unauthenticated | None = None
        for token in tokens:
            try:
                found.append(self._verify(token, SESSION_AUDIENCE, path))
            except Unauthenticated as exc:
                refusal = refusal or exc
        if found:
            return max(found, key=lambda link: len(link.prefix))
        assert refusal is not None
        raise refusal

    def csrf_token(self, session: Link) -> str:
        """The token a form posted under ``session`` must carry: bound to that one session, and
        nothing to store (an HMAC of its ``jti`` with the link secret)."""
        digest = hmac.new(
            self._secret.encode(), f"csrf:{session.jti}".encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def csrf_matches(self, session: Link, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(
            self.csrf_token(session).encode(), candidate.encode()
        )

    def _verify(self, token: str, audience: str, path: str) -> Link:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=audience,
                options={"require": ["exp", "aud", "sub", "prefix", "actions", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise LinkExpired("The link has expired; ask for a new one.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The link is not valid.") from exc
        try:
            organisation = claims.get("org")
            link = Link(
                subject=str(claims["sub"]),
                kind=PrincipalKind(claims["kind"]),
                organisation_id=uuid.UUID(organisation) if organisation else None,
                issuer=claims.get("issuer"),
                respondent=claims.get("respondent"),
                actions=frozenset(LinkAction(action) for action in claims["actions"]),
                prefix=str(claims["prefix"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
                jti=str(claims["jti"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            # Signed with our secret but not by this code: nothing to trust in it.
            raise Unauthenticated("The link is not valid.") from exc
        if not link.covers(path):
            raise Unauthenticated("The link is not valid for this page.")
        return link


def _present(claims: Mapping[str, object]) -> dict[str, object]:
    """Claims without the empty ones: a shorter link, and nothing said that is not so."""
    return {name: value for name, value in claims.items() if value is not None}
