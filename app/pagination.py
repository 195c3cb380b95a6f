"""Keyset (cursor) pagination on ``(created_at, id)``: the SQL half (links are in app.http).

Keyset rather than offset: a page walk neither repeats nor skips rows when others are inserted
meanwhile, and page N costs the same as page 1. The cursor is opaque to clients (URL-safe
base64 of the last row's key); anything else is refused with 400 INVALID_CURSOR.
"""

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Integer, Select, and_, bindparam, or_
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.elements import ColumnElement

from app import json_input
from app.db import UTCDateTime
from app.errors import InvalidCursor, NestedTooDeep, PayloadTooLarge

# A cursor this service writes is a timestamp and an id: under a hundred bytes.
MAX_CURSOR_BYTES = 256
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class PageParams(BaseModel):
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.astimezone(UTC).isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json_input.loads(raw, max_bytes=MAX_CURSOR_BYTES)
        if not isinstance(created, str) or not isinstance(row_id, str):
            raise TypeError("cursor parts must be strings")
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment.astimezone(UTC), uuid.UUID(row_id)
    except (
        binascii.Error,
        ValueError,
        TypeError,
        UnicodeDecodeError,
        OverflowError,
        PayloadTooLarge,
        NestedTooDeep,
    ) as exc:
        raise InvalidCursor(
            "The cursor is malformed or was not issued by this service; "
            "omit it to start from the first page."
        ) from exc


S = TypeVar("S", bound=Select[Any])


def keyset(
    statement: S,
    *,
    created_at: Mapped[datetime],
    row_id: Mapped[uuid.UUID],
    params: PageParams,
) -> S:
    """Order by the key, start after the cursor, fetch one extra row to know if more follow.

    The ``>=`` on the time says the same as the ``or_`` after it, in the one form an index
    range can start from: with the ``or_`` alone PostgreSQL reads the (time, id) index from its
    first entry and filters, so a later page of a list with no leading equality (every asset,
    the audit log) cost the whole table (the plan check in tests/test_query_plans.py)."""
    if params.cursor is not None:
        after_created, after_id = decode_cursor(params.cursor)
        statement = statement.where(
            created_at >= after_created,
            or_(created_at > after_created, and_(created_at == after_created, row_id > after_id)),
        )
    return statement.order_by(created_at, row_id).limit(params.limit + 1)


# A statement built once (app.db.prebuilt) takes the cursor and the limit as named parameters.
CURSOR_PARAMETERS = frozenset({"after_created", "after_id"})


def keyset_on_parameters(
    statement: S,
    *,
    created_at: ColumnElement[datetime],
    row_id: ColumnElement[uuid.UUID],
    given: frozenset[str],
) -> S:
    """``keyset`` for a prebuilt statement: after the cursor when ``given`` names it, oldest
    first, with ``limit``; ``page_values`` gives the parameters' values."""
    if "after_created" in given:
        after = bindparam("after_created", type_=UTCDateTime)
        statement = statement.where(
            created_at >= after,
            or_(created_at > after, and_(created_at == after, row_id > bindparam("after_id"))),
        )
    return statement.order_by(created_at, row_id).limit(bindparam("limit", type_=Integer))


def page_values(params: PageParams) -> dict[str, Any]:
    """The values of ``keyset_on_parameters``' parameters: one row more than the page, to know
    whether another page follows, and the cursor's key when there is one."""
    values: dict[str, Any] = {"limit": params.limit + 1}
    if params.cursor is not None:
        values["after_created"], values["after_id"] = decode_cursor(params.cursor)
    return values
