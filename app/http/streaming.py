"""CSV downloads as streams that end with the response, however it ends (shared by the list
exports of assets and activities)."""

import logging
from collections.abc import AsyncIterator

import anyio
from fastapi.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from app.transfer.cells import MEDIA_TYPE

# The exports' own logger name, kept from when this lived with them.
logger = logging.getLogger("app.transfer")


class _PastDeadline(Exception):
    """The export's time is up and the client has not taken what was sent."""


class ClosingStreamingResponse(StreamingResponse):
    """A stream whose source is closed when the response ends, however it ends, and that ends
    at the export's deadline (``LHS_EXPORT_TIMEOUT_SECONDS``) if it has not finished by then.

    An export's rows come from a generator that holds a read transaction and a server-side
    cursor. When the client goes away mid-download, Starlette stops iterating and leaves the
    generator suspended at its ``yield``: it was closed only when garbage collection got to
    it, and meanwhile its connection sat "idle in transaction". Closing it here ends the
    transaction as the response ends (shielded, so a cancelled request still closes it).

    A client that stays connected but stops reading blocks the server's writes instead (flow
    control), with the generator suspended the same way: it would hold the transaction as long
    as it liked. Past the deadline the response is abandoned unfinished (the server then closes
    the connection, and the client sees a download cut short, never a complete-looking one).
    The deadline bounds the sending, never the generator's own work: cancelling it inside a
    database call could leave its connection in an unknown state."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seconds = scope["app"].state.settings.export_timeout_seconds
        deadline = anyio.current_time() + seconds

        async def send_in_time(message: Message) -> None:
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                raise _PastDeadline
            with anyio.move_on_after(remaining) as waiting:
                await send(message)
            if waiting.cancelled_caught:
                raise _PastDeadline

        try:
            await super().__call__(scope, receive, send_in_time)
        except _PastDeadline:
            logger.warning("export cut off: not taken by the client within %s s", seconds)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()


def csv_stream(chunks: AsyncIterator[bytes], filename: str) -> StreamingResponse:
    return ClosingStreamingResponse(
        chunks,
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Vary": "Accept"},
    )
