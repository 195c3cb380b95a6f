"""The HTTP half of pagination: the page parameters, and the links to the next page (in the
body and in an RFC 8288 ``Link`` header). The SQL half is app.pagination."""

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request, Response

from app.api import Links, Page
from app.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageParams, encode_cursor

LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT}).")
]
CursorQuery = Annotated[
    str | None,
    Query(max_length=1000, description="Opaque cursor from links.next of the previous page."),
]


async def page_params(limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None) -> PageParams:
    # async on purpose: FastAPI runs a sync dependency in its threadpool (a hop per request).
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]

T = TypeVar("T")
P = TypeVar("P", bound=Page[Any])


def build_page(
    request: Request,
    response: Response,
    rows: Sequence[Any],
    params: PageParams,
    convert: Callable[[Any], T],
    page_class: type[P],
    *,
    sort_key: Callable[[Any], tuple[datetime, uuid.UUID]] = lambda row: (row.created_at, row.id),
) -> P:
    """Trim the look-ahead row, link the next page in the body and in an RFC 8288 Link header.

    ``sort_key`` gives the row's keyset: the columns the list's query was ordered by (a table
    whose time column is not ``created_at`` says which it is)."""
    next_url: str | None = None
    if len(rows) > params.limit:
        cursor = encode_cursor(*sort_key(rows[params.limit - 1]))
        next_url = str(request.url.include_query_params(cursor=cursor))
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    items = [convert(row) for row in rows[: params.limit]]
    return page_class(items=items, links=Links(self=str(request.url), next=next_url))
