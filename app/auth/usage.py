"""A key's ``lastUsedAt``: written at most once a minute per key, never on the request's path.

The first use of a key in a minute (per process, remembered in ``caches.KEY_USE``) starts a
task of its own that writes the time in a short transaction of its own (a side_transaction),
so a request never waits for that write, never holds SQLite's write lock for it, and is never
rolled back with it. The UPDATE only moves the time forward by at least the interval, so
several processes using one key write it at most about once a minute between them too.
A write that fails (the database busy, the key deleted) is dropped: the next use retries.
"""

import asyncio
import logging
import uuid
from datetime import datetime, timedelta

from cachetools import TTLCache
from sqlalchemy import or_, update
from sqlmodel import col

from app import caches
from app.db import Sessions, side_transaction, utcnow
from app.models import ApiKey

logger = logging.getLogger("app.auth")

INTERVAL = timedelta(seconds=caches.KEY_USE.ttl_seconds or 60.0)


class UsageRecorder:
    def __init__(self) -> None:
        self._recent: TTLCache[uuid.UUID, bool] = caches.timed(caches.KEY_USE)
        # Running writes, held so they are not collected midway and so shutdown can wait.
        self._writing: set[asyncio.Task[None]] = set()

    def used(self, sessions: Sessions, key_id: uuid.UUID) -> None:
        """Note a use of the key; returns at once."""
        if caches.hit(self._recent, key_id) is not None:
            return
        self._recent[key_id] = True
        task = asyncio.get_running_loop().create_task(record(sessions, key_id, utcnow()))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def drain(self) -> None:
        """Wait for the writes under way (at shutdown, and in tests)."""
        while self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)


async def record(sessions: Sessions, key_id: uuid.UUID, when: datetime) -> None:
    try:
        async with side_transaction(sessions) as session:
            await session.exec(
                update(ApiKey)
                .where(
                    col(ApiKey.id) == key_id,
                    or_(
                        col(ApiKey.last_used_at).is_(None),
                        col(ApiKey.last_used_at) <= when - INTERVAL,
                    ),
                )
                .values(last_used_at=when)
                .execution_options(synchronize_session=False)
            )
    except Exception:  # the use is not lost for long: the next one after the interval retries
        logger.warning("could not record the use of API key %s", key_id, exc_info=True)
