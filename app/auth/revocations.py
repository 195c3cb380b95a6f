"""Telling every instance at once that a key changed (revoked, rotated, deleted with its
organisation) or that an ODS code no longer names the organisation it did, where Redis is
configured (LHS_REDIS_URL, the one the rate limit shares).

Each instance keeps verified keys in its cache for up to LHS_API_KEY_CACHE_SECONDS
(app.auth.keycache), and the organisations tokens' ODS codes name for a few minutes
(app.auth.authenticate). Once a change has committed, its key's prefix (or ``ods:`` and the
code) is published on a channel; every instance subscribes and forgets it, so its next use is
read from the database again. The message is sent only after the commit: one sent before
could make another instance read, and cache again, what was about to change.

Pub/sub delivers only to those listening: an instance whose subscription dropped forgets every
cached key when it subscribes again, since it may have missed messages meanwhile. Without
Redis (or when publishing fails), other instances learn of it when their cache entry expires,
and the answers say so (``delay_seconds``).
"""

import asyncio
import contextlib
import logging
import weakref
from typing import Any

import redis.asyncio
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth import keycache
from app.config import Settings

logger = logging.getLogger("app.auth")

RETRY_SECONDS = 1.0


class Broadcaster:
    """One application's connection to the channel (publishing and listening)."""

    def __init__(self, redis_url: str, *, key_prefix: str) -> None:
        self.channel = f"{key_prefix}:api-keys:changed"
        self._redis: redis.asyncio.Redis = redis.asyncio.Redis.from_url(redis_url)
        # The event loop its connections belong to, once known: a process may run several
        # (the command line runs its own), and a commit announces through its own loop's only.
        self.loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):
            self.loop = asyncio.get_running_loop()
        _broadcasters.add(self)

    async def publish(self, prefix: str) -> bool:
        try:
            await self._redis.publish(self.channel, prefix)
        except (RedisError, OSError):
            logger.warning(
                "could not announce a change to API key %s; other instances stop trusting "
                "their copy within LHS_API_KEY_CACHE_SECONDS",
                prefix,
                exc_info=True,
            )
            return False
        return True

    async def listen(self, *, ready: asyncio.Event | None = None) -> None:
        """Forget each announced key, until cancelled; reconnects after a failure."""
        self.loop = asyncio.get_running_loop()
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    keycache.forget_all()  # whatever was announced while not listening
                    if ready is not None:
                        ready.set()
                    async for message in pubsub.listen():
                        _forget(_text(message["data"]))
            except (RedisError, OSError):
                logger.warning("the API key channel is unavailable; retrying", exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)

    async def close(self) -> None:
        _broadcasters.discard(self)
        await self._redis.aclose()


_broadcasters: "weakref.WeakSet[Broadcaster]" = weakref.WeakSet()


def from_settings(settings: Settings) -> Broadcaster | None:
    if not settings.redis_url:
        return None
    return Broadcaster(settings.redis_url, key_prefix=settings.rate_limit_key_prefix)


def delay_seconds(settings: Settings) -> float:
    """How long other running instances may still trust what they knew of a changed key:
    nothing to wait for where changes are published, else the key cache's time to live."""
    return 0.0 if settings.redis_url else settings.api_key_cache_seconds


# A message naming an ODS code rather than a key's prefix (a prefix never holds a colon).
ODS = "ods:"


def _forget(message: str) -> None:
    if message.startswith(ODS):
        keycache.forget_ods_code(message.removeprefix(ODS))
    else:
        keycache.forget(message)


def after_commit(session: AsyncSession, prefix: str) -> None:
    """Once the session's transaction commits: forget the key in this process and announce it
    to the others. Nothing happens if it rolls back."""
    _announce_after_commit(session, prefix)


def ods_code_after_commit(session: AsyncSession, code: str) -> None:
    """Once the session's transaction commits: no instance may go on resolving ``code`` to
    the organisation it named (its code changed, or it was deleted)."""
    _announce_after_commit(session, f"{ODS}{code}")


def _announce_after_commit(session: AsyncSession, message: str) -> None:
    def committed(_session: Any) -> None:
        _forget(message)
        loop = asyncio.get_running_loop()
        for broadcaster in list(_broadcasters):
            if broadcaster.loop not in (None, loop):
                continue
            broadcaster.loop = loop
            task = loop.create_task(broadcaster.publish(message))
            _publishing.add(task)
            task.add_done_callback(_publishing.discard)

    event.listen(session.sync_session, "after_commit", committed, once=True)


# Announcements under way, held so none is collected before it is sent.
_publishing: "set[asyncio.Task[bool]]" = set()


async def published() -> None:
    """Wait for the announcements under way (the command line, before it exits)."""
    loop = asyncio.get_running_loop()
    while pending := [task for task in _publishing if task.get_loop() is loop]:
        await asyncio.gather(*pending, return_exceptions=True)


def _text(data: bytes | str) -> str:
    return data.decode() if isinstance(data, bytes) else data
