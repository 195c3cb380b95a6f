"""Work that callers needing the same answer share: the first starts it, the others that come
meanwhile wait for that one instead of repeating it (an analysis under a flood of identical
requests would otherwise read the system in a snapshot per request).

The work runs as its own task and each caller awaits it shielded: a caller that goes away
does not cancel what the others wait for. The task leaves the map when it ends, however it
ends, and its exception is retrieved even if every waiter has gone.
"""

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from functools import partial
from typing import Any, Generic, TypeVar

from app import caches

V = TypeVar("V")


class SingleFlight(Generic[V]):
    """The tasks in flight, by the key of what each works out."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Task[V]] = {}
        caches.also_clear(self._running.clear)

    def running(self, key: Hashable) -> "asyncio.Task[V] | None":
        """The task working ``key`` out now, if there is one."""
        return self._running.get(key)

    async def do(self, key: Hashable, work: Callable[[], Coroutine[Any, Any, V]]) -> V:
        """The answer for ``key``: from the task in flight, or from ``work`` started now."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.create_task(work())
            self._running[key] = task
            task.add_done_callback(partial(self._done, key))
        return await asyncio.shield(task)

    def _done(self, key: Hashable, finished: "asyncio.Task[V]") -> None:
        if self._running.get(key) is finished:  # not one started after a clear_all
            del self._running[key]
        if not finished.cancelled():
            finished.exception()  # retrieved: every waiter may have gone away
