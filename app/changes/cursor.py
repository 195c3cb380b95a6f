"""The feed's cursor: a position in the feed and when the service issued it, as opaque
URL-safe base64. Pure functions, so the round trip and every refusal are tested without a
database.

The issue time makes retention a property of the cursor: one older than the retention
answers 410, whatever has been written since (a cursor issued on a quiet feed yesterday is
as good as one issued after a busy hour)."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.errors import CursorExpired, InvalidCursor

# Asks for the cursor of now (no entries): where a client that has just read everything
# starts following.
NOW = "now"
_TAG = "feed"
_MAX_CHARS = 200
# Positions are BIGINT: a forged cursor past that range is refused here, not by the driver.
_MAX_POSITION = 2**63 - 1
# How far ahead of this instance's clock another instance's may be.
_CLOCK_SKEW = timedelta(hours=1)


@dataclass(frozen=True)
class Cursor:
    position: int
    issued_at: datetime


def encode(position: int, issued_at: datetime) -> str:
    raw = json.dumps([_TAG, position, int(issued_at.timestamp())], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(text: str) -> Cursor:
    """The cursor ``text`` stands for; InvalidCursor (400) for anything this service did not
    issue."""
    try:
        if len(text) > _MAX_CHARS:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        tag, position, issued = json.loads(raw)
        if (
            tag != _TAG
            or type(position) is not int
            or type(issued) is not int
            or not 0 <= position <= _MAX_POSITION
        ):
            raise ValueError("not a feed cursor")
        return Cursor(position, datetime.fromtimestamp(issued, UTC))
    except (
        binascii.Error,
        ValueError,
        TypeError,
        UnicodeDecodeError,
        OverflowError,
        OSError,
    ) as exc:
        raise InvalidCursor(
            "The cursor is malformed or was not issued by this feed; start from "
            "GET /v1/changes without `after`, or with after=now."
        ) from exc


def check_age(cursor: Cursor, *, now: datetime, retention: timedelta) -> None:
    """CursorExpired (410) for a cursor issued longer ago than the retention; InvalidCursor
    (400) for one issued later than now, beyond any skew between instances' clocks: no
    instance issued it, and it would never expire (reading past the retention for ever)."""
    if cursor.issued_at - now > _CLOCK_SKEW:
        raise InvalidCursor(
            "The cursor was not issued by this feed (it is dated in the future); start from "
            "GET /v1/changes without `after`, or with after=now."
        )
    if now - cursor.issued_at > retention:
        raise CursorExpired(
            f"This cursor was issued on {cursor.issued_at:%Y-%m-%d}, more than "
            f"{retention.days} days ago, the change feed's retention: changes since then may "
            "no longer be served. Re-read everything you mirror (the lists and exports), then "
            "follow the feed from GET /v1/changes?after=now, taken before that re-read."
        )
