"""Graceful under overload: each process works on a bounded number of requests at once.

Beyond the bound a request may wait for a slot in a queue, but only if it can expect one in
time: the expected wait is the requests ahead of it times the recent time a request holds a
slot, divided by the number of slots. A request that could not start within
``wait_seconds`` (or finds the queue full) is refused at once with a 503 problem and
``Retry-After``; one that waited and still found no slot in time is refused then. Cheap
requests can thus queue deeper than expensive ones, and what is served is served promptly.

Without this, a flood queues every request on the connection pool until the pool's timeout,
so that nothing is served quickly and everything fails slowly. A refusal is cheap: no
authentication, no database.

Runs inside the request-ID middleware (refusals carry a traceId) and outside authentication
(an uncached key costs a query). Liveness and readiness probes are exempt: a busy instance is
alive, and must not be restarted for being busy.
"""

import asyncio
import math
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from app.db import SAFE_METHODS
from app.errors import Overloaded
from app.http.problems import problem_response

# How much a finished request moves the estimate of the time a request holds a slot.
SMOOTHING = 0.1


class ConcurrencyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        queue: int,
        wait_seconds: float,
        exempt: list[str],
        write_wait_seconds: float | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.queue = queue
        self.wait_seconds = wait_seconds
        self.exempt = tuple(exempt)
        self.retry_after = str(max(1, math.ceil(wait_seconds)))
        self.slots = asyncio.Semaphore(limit)
        self.waiting = 0
        self.holding_seconds = 0.0  # a moving average; 0 until a request has finished
        # SQLite: requests that write get slots and a queue of their own, where they may wait
        # as long as a write waits for the single writer. Their turns come one at a time, so
        # queued writes are normal there, and must not fill the slots reads need; with the
        # reads' short wait they were refused at once, and each refusal came straight back.
        self.writes: ConcurrencyLimitMiddleware | None = None
        if write_wait_seconds is not None:
            self.writes = ConcurrencyLimitMiddleware(
                app, limit=limit, queue=queue, wait_seconds=write_wait_seconds, exempt=exempt
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        if self.writes is not None and scope["method"] not in SAFE_METHODS:
            await self.writes(scope, receive, send)
            return
        if not await self._acquire():
            error = Overloaded(
                "The service is busy; this request was not started. Retry shortly.",
                headers={"Retry-After": self.retry_after},
            )
            await problem_response(error, scope)(scope, receive, send)
            return
        began = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()
            self._observe(time.monotonic() - began)

    def expected_wait(self) -> float:
        """How long a request arriving now would wait for a slot."""
        return (self.waiting + 1) * self.holding_seconds / self.limit

    def _observe(self, seconds: float) -> None:
        if self.holding_seconds == 0.0:
            self.holding_seconds = seconds
        else:
            self.holding_seconds += SMOOTHING * (seconds - self.holding_seconds)

    async def _acquire(self) -> bool:
        if not self.slots.locked():
            await self.slots.acquire()  # a free slot: taken without waiting
            return True
        if self.waiting >= self.queue or self.expected_wait() > self.wait_seconds:
            return False
        self.waiting += 1
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self.slots.acquire()
            return True
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
