"""Which database a read that may use the replica runs on, per request; and what each caller
last wrote, so that it reads its own writes.

With LHS_DATABASE_REPLICA_URL set, the gap analyses, reports, benchmarks and exports ask for
``replica_reads(request)`` instead of the primary's reads. A request is read from the replica
when all of these hold, and from the primary otherwise (never an error because of a replica):

- the replica answered its last status check (made at most every STATUS_SECONDS, shared by
  the process's requests) and is at most LHS_REPLICA_MAX_LAG_SECONDS behind;
- it has replayed the caller's last write: after every write request that succeeds, the
  primary's WAL position (``pg_current_wal_lsn()``, taken after the commit, so at or past the
  commit record) is remembered for the credential, in process and, when LHS_REDIS_URL is set,
  in Redis, so a write through one instance is waited for by the others too. A read of a
  caller whose write the replica has not replayed yet polls the replica for up to
  LHS_REPLICA_WAIT_SECONDS, then reads the primary.

Why the log position rather than pinning a caller to the primary for a while after it writes:
a pin must outlast the worst lag to be right, and then sends a portal that writes often to the
primary almost always; the position is exact whatever the lag, costs one statement on the
primary after a write and nothing on a read the replica has caught up with (usually within
milliseconds: bench/results/replica.md), and degrades to the primary only for the caller
whose write is not there yet. Replay on one standby only moves forward, so a check made
before a snapshot opens holds for that snapshot: the replica URL must name one standby (each
instance may name a different one), not a pool that spreads connections over several.

Every decision is counted in ``lhs_replica_reads_total`` by where it was served and why.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import redis.asyncio
from cachetools import TTLCache
from fastapi import Depends, Request
from prometheus_client import Counter
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import caches
from app.auth.middleware import PRINCIPAL
from app.auth.principal import Principal
from app.config import Settings
from app.db import SAFE_METHODS, ReadContext, Sessions

logger = logging.getLogger("app.replica")

READS = Counter(
    "lhs_replica_reads",
    "Reads that may use the replica, by where they were served (replica, primary) and why.",
    ("served_by", "reason"),
)
# How long one status check of the replica serves the process's requests.
STATUS_SECONDS = 0.5
# After a failed check, the replica is left alone this long (requests read the primary).
DOWN_SECONDS = 2.0
# The longest a status check may take before the replica counts as down.
CHECK_TIMEOUT_SECONDS = 1.0
POLL_SECONDS = 0.005
# A position past any real one: a caller whose write's position could not be read is sent to
# the primary (for as long as positions are remembered) rather than risk a stale read.
UNKNOWN_POSITION = 1 << 62

_STATUS = text(
    "SELECT pg_is_in_recovery() AS recovery,"
    " (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS replayed,"
    # Streaming with nothing left to replay: no lag, however long the primary has been idle.
    # Otherwise the age of the last transaction replayed (what the standard lag query says).
    " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
    "  AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN 0"
    "  ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)"
    " END::float8 AS lag"
)
_WRITTEN = text("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint")

# Raise the stored position, never lower it (two instances may record out of order).
_RAISE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


@dataclass(frozen=True, slots=True)
class Status:
    """What the last check found: how far the replica has replayed, and how far behind it is
    (a server not in recovery, say a promoted standby, has everything: ``replayed`` is None)."""

    replayed: int | None
    lag_seconds: float
    at: float

    def has(self, position: int) -> bool:
        return self.replayed is None or self.replayed >= position


class ReplicaRouting:
    """One application's choice between its replica and its primary."""

    def __init__(self, sessions: Sessions, settings: Settings) -> None:
        assert sessions.replica is not None
        self.sessions = sessions
        self.wait_seconds = settings.replica_wait_seconds
        self.max_lag_seconds = settings.replica_max_lag_seconds
        # A position matters only while the replica may not have it: past the lag bound the
        # replica is not read at all. Kept twice as long, and at least a minute.
        self.remember_ms = int(max(60.0, 2 * self.max_lag_seconds) * 1000)
        self._written: TTLCache[str, int] = caches.timed(
            caches.REPLICA_WRITES, self.remember_ms / 1000
        )
        self._prefix = f"{settings.rate_limit_key_prefix}:replica-lsn:"
        self._redis: redis.asyncio.Redis | None = None
        self._raise: Any = None
        if settings.redis_url:
            self._redis = redis.asyncio.Redis.from_url(settings.redis_url)
            self._raise = self._redis.register_script(_RAISE)
        self._status: Status | None = None
        self._down_until = 0.0
        self._checking: asyncio.Task[Status | None] | None = None

    @property
    def _standby(self) -> AsyncEngine:
        assert self.sessions.replica is not None
        engine = self.sessions.replica.kw["bind"]
        assert isinstance(engine, AsyncEngine)
        return engine

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    # What callers wrote.

    async def wrote(self, caller: str) -> None:
        """Remember the primary's position after ``caller``'s write committed."""
        try:
            primary = self.sessions.read.kw["bind"]
            async with primary.connect() as connection:
                position = int((await connection.execute(_WRITTEN)).scalar_one())
        except (SQLAlchemyError, OSError):
            logger.warning("could not read the primary's WAL position after a write; %s reads "
                           "the primary for a while", caller, exc_info=True)  # fmt: skip
            position = UNKNOWN_POSITION
        if position > self._written.get(caller, 0):
            self._written[caller] = position
        if self._raise is not None:
            try:
                await self._raise(keys=[self._prefix + caller], args=[position, self.remember_ms])
            except (RedisError, OSError):
                logger.warning("could not share a write's position in Redis", exc_info=True)

    async def _last_write(self, caller: str) -> int | None:
        here = self._written.get(caller)
        if self._redis is None:
            return here
        try:
            shared = await self._redis.get(self._prefix + caller)
        except (RedisError, OSError):
            logger.warning("Redis unavailable: a caller's writes elsewhere are unknown; "
                           "reading the primary", exc_info=True)  # fmt: skip
            return UNKNOWN_POSITION
        found = [value for value in (here, int(shared) if shared else None) if value is not None]
        return max(found) if found else None

    # The replica's state.

    async def status(self, *, fresh: bool = False) -> Status | None:
        """The replica's last known status (checked again when older than STATUS_SECONDS, or
        when ``fresh``), or None when it is down. One check at a time per process."""
        now = time.monotonic()
        if now < self._down_until:
            return None
        known = self._status
        if not fresh and known is not None and now - known.at < STATUS_SECONDS:
            return known
        if self._checking is None:
            self._checking = asyncio.create_task(self._check())
            self._checking.add_done_callback(self._checked)
        return await asyncio.shield(self._checking)

    def _checked(self, task: "asyncio.Task[Status | None]") -> None:
        self._checking = None
        if not task.cancelled():
            task.exception()

    async def _check(self) -> Status | None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                async with self._standby.connect() as connection:
                    row = (await connection.execute(_STATUS)).one()
        except (SQLAlchemyError, OSError, TimeoutError):
            if self._status is not None or self._down_until == 0.0:
                logger.warning("the read replica is not answering; reading the primary",
                               exc_info=True)  # fmt: skip
            self._status = None
            self._down_until = time.monotonic() + DOWN_SECONDS
            return None
        if self._status is None and self._down_until:
            logger.info("the read replica answers again")
        replayed = int(row.replayed) if row.recovery and row.replayed is not None else None
        self._status = Status(replayed, float(row.lag), time.monotonic())
        return self._status

    # The choice.

    async def reads_for(self, caller: str | None) -> ReadContext:
        """The replica's reads if it is up, close enough, and has the caller's last write;
        the primary's otherwise."""
        status = await self.status()
        if status is None:
            return self.primary("down")
        if status.lag_seconds > self.max_lag_seconds:
            return self.primary("lagging")
        needed = None if caller is None else await self._last_write(caller)
        if needed is not None and not status.has(needed):
            deadline = time.monotonic() + self.wait_seconds
            while True:
                if time.monotonic() >= deadline:
                    return self.primary("own_write")
                await asyncio.sleep(POLL_SECONDS)
                status = await self.status(fresh=True)
                if status is None:
                    return self.primary("down")
                if status.has(needed):
                    break
        READS.labels("replica", "caught_up").inc()
        return self.sessions.replica_reads

    def primary(self, reason: str) -> ReadContext:
        READS.labels("primary", reason).inc()
        return self.sessions.reads

    def suspect(self) -> None:
        """A read on the replica failed: check it again before the next one uses it."""
        self._status = None


def _caller(scope: Scope) -> str | None:
    principal = scope.get("state", {}).get(PRINCIPAL)
    return principal.rate_key if isinstance(principal, Principal) else None


# In the request's state: its reads were given the replica; or it is being answered again on
# the primary after the replica failed it.
USED_REPLICA = "replica_used"
BYPASS_REPLICA = "replica_bypass"


async def replica_reads(request: Request) -> ReadContext:
    """The reads of a route that may use the replica (the primary's, without one). A
    dependency, or awaited where only one branch of a route reads that way (an export)."""
    routing: ReplicaRouting | None = getattr(request.app.state, "replica", None)
    sessions: Sessions = request.app.state.sessions
    state = request.scope.setdefault("state", {})
    if routing is None:
        return sessions.reads
    if state.get(BYPASS_REPLICA):
        return routing.primary("retried")
    reads = await routing.reads_for(_caller(request.scope))
    if reads is not sessions.reads:
        state[USED_REPLICA] = True
    return reads


ReplicaReadsDep = Annotated[ReadContext, Depends(replica_reads)]


class ReplicaMiddleware:
    """Pure ASGI middleware for what the replica needs around a request.

    A write request that succeeded (its unit of work committed before the response starts):
    the primary's position is remembered for its caller before the caller sees the answer.

    A read the replica failed (an error status from a request whose reads were given the
    replica: the standby went away, or cancelled a query that conflicted with its replay):
    its error response is dropped and the request answered again on the primary, once. Only
    for GET and HEAD, which change nothing and have no body to read twice; a response that
    has started (a streaming export) cannot be taken back."""

    def __init__(self, app: ASGIApp, *, routing: Callable[[], "ReplicaRouting | None"]) -> None:
        self.app = app
        self.routing = routing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] in ("GET", "HEAD"):
            await self._read(scope, receive, send)
        elif scope["method"] not in SAFE_METHODS:
            await self._write(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def remembering(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                routing, caller = self.routing(), _caller(scope)
                if routing is not None and caller is not None:
                    await routing.wrote(caller)
            await send(message)

        await self.app(scope, receive, remembering)

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})
        dropped = False

        async def dropping(message: Message) -> None:
            nonlocal dropped
            if message["type"] == "http.response.start":
                dropped = message["status"] >= 500 and bool(state.get(USED_REPLICA))
            if not dropped:
                await send(message)

        await self.app(scope, receive, dropping)
        routing = self.routing()
        if not dropped or routing is None:
            return
        routing.suspect()
        state[BYPASS_REPLICA] = True
        state.pop(USED_REPLICA, None)
        sent = False

        async def again() -> Message:
            # The request's (empty) body was read the first time: give it once more.
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return await receive()

        await self.app(scope, again, send)
