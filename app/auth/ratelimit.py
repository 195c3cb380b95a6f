"""Rate limits per credential, through the ``limits`` library.

Counted in process memory by default; in Redis when ``LHS_REDIS_URL`` is set, so that every
instance shares one allowance per credential. Fixed windows that start at a credential's first
request: two counters' worth of state per credential, and exact ``RateLimit-*`` headers, at the
price of allowing up to twice the rate across a window boundary.

If Redis cannot be reached the request is let through and a warning logged: a limiter outage
should not become a service outage.
"""

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.principal import Principal
from app.config import Settings
from app.errors import TooManyRequests
from app.http.middleware import add_response_headers
from app.http.problems import problem_response
from app.vocabulary import PrincipalKind

logger = logging.getLogger("app.auth")

KEY_PREFIX = "lhs-rate"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the window that decided ends


class RateLimiter:
    def __init__(self, limit: str, *, redis_url: str | None, key_prefix: str = KEY_PREFIX) -> None:
        self.items: list[RateLimitItem] = parse_many(limit)
        self.storage: Storage
        if redis_url:
            uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
            self.storage = RedisStorage(uri, implementation="redispy", key_prefix=key_prefix)
        else:
            self.storage = MemoryStorage()

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimiter":
        return cls(
            settings.rate_limit,
            redis_url=settings.redis_url,
            key_prefix=settings.rate_limit_key_prefix,
        )

    async def hit(self, key: str) -> Decision:
        """Count one request against every limit; the tightest one decides and is reported."""
        decisions = []
        for item in self.items:
            # What FixedWindowRateLimiter.hit does, keeping the count it throws away: the
            # remaining allowance is then exact under concurrency, and one round trip cheaper.
            storage_key = item.key_for(key)
            count = await self.storage.incr(storage_key, item.get_expiry())
            resets_at = await self.storage.get_expiry(storage_key)
            decisions.append(
                Decision(
                    allowed=count <= item.amount,
                    limit=item.amount,
                    remaining=max(0, item.amount - count),
                    reset_seconds=max(0, math.ceil(resets_at - time.time())),
                )
            )
        refused = [d for d in decisions if not d.allowed]
        if refused:
            return max(refused, key=lambda d: d.reset_seconds)
        return min(decisions, key=lambda d: (d.remaining, -d.reset_seconds))


class RateLimitMiddleware:
    """Counts each request against its caller: the principal the authentication middleware
    found, or else the client's address. Runs inside the authentication middleware."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, exempt: list[str]) -> None:
        self.app = app
        self.limiter = limiter
        self.exempt = tuple(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        try:
            decision = await self.limiter.hit(caller_key(state.get("principal"), scope))
        except Exception as exc:  # any storage failure: fail open, and say so
            logger.warning("rate limiter unavailable, request not counted: %s", exc)
            await self.app(scope, receive, send)
            return
        add_response_headers(
            scope,
            [
                (b"ratelimit-limit", str(decision.limit).encode()),
                (b"ratelimit-remaining", str(decision.remaining).encode()),
                (b"ratelimit-reset", str(decision.reset_seconds).encode()),
            ],
        )
        if not decision.allowed:
            retry = str(max(1, decision.reset_seconds))
            error = TooManyRequests(
                f"Too many requests: the limit is {decision.limit} per window; retry in {retry} s.",
                headers={"Retry-After": retry},
            )
            await problem_response(error, scope)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def caller_key(principal: Principal | None, scope: Scope) -> str:
    # The operator stands in for every caller when authentication is off (development):
    # count those by address, not as one caller.
    if principal is not None and principal.kind is not PrincipalKind.OPERATOR:
        return principal.rate_key
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"
