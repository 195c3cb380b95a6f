"""Graceful under overload: each process works on a bounded number of requests at once.

Beyond the bound a request waits a short while for a slot, in a bounded queue; if none frees
up in time (or the queue is full) it is refused at once with a 503 problem and
``Retry-After``. Without this, a flood queues every request on the connection pool until the
pool's timeout, so that nothing is served quickly and everything fails slowly. Refusing early
is cheap (no authentication, no database) and keeps the latency of what is served low.

Runs inside the request-ID middleware (refusals carry a traceId) and outside authentication
(an uncached key costs a query). Liveness and readiness probes are exempt: a busy instance
is alive, and must not be restarted for being busy.
"""

import asyncio
import math

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import Overloaded
from app.http.problems import problem_response


class ConcurrencyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        queue: int,
        wait_seconds: float,
        exempt: list[str],
    ) -> None:
        self.app = app
        self.limit = limit
        self.queue = queue
        self.wait_seconds = wait_seconds
        self.exempt = tuple(exempt)
        self.retry_after = str(max(1, math.ceil(wait_seconds)))
        self.slots = asyncio.Semaphore(limit)
        self.waiting = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        if not await self._acquire():
            error = Overloaded(
                "The service is busy; this request was not started. Retry shortly.",
                headers={"Retry-After": self.retry_after},
            )
            await problem_response(error, scope)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()

    async def _acquire(self) -> bool:
        if not self.slots.locked():
            await self.slots.acquire()  # a free slot: taken without waiting
            return True
        if self.waiting >= self.queue:
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
