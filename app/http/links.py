"""The HTTP half of pagination: the page parameters, and the links to the next page (in the
body and in an RFC 8288 ``Link`` header). The SQL half is app.pagination."""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request, Response

from app.api import Links, Page
from app.http.content import JSON
from app.http.wire import dump_json
from app.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageParams, encode_cursor

LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT}).")
]
CursorQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=1000,
        description="Opaque cursor from links.next of the previous page.",
    ),
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
    next_url = _next_url(request, rows, params, sort_key)
    if next_url is not None:
        response.headers["Link"] = _link(next_url)
    items = [convert(row) for row in rows[: params.limit]]
    return page_class(items=items, links=Links(self=str(request.url), next=next_url))


@dataclass(frozen=True)
class PageRows:
    """What a page is written from: its rows (without the look-ahead row) and its links."""

    rows: Sequence[Mapping[str, Any]]
    self_url: str
    next_url: str | None


def page_response(
    request: Request,
    rows: Sequence[Mapping[str, Any]],
    params: PageParams,
    write: Callable[[PageRows], bytes],
) -> Response:
    """The page ``build_page`` would give, written straight from rows: only for a list
    registered in app.http.answers (``write`` is its entry's), which says why and is tested
    to give the page model's bytes."""
    next_url = _next_url(request, rows, params, lambda row: (row["created_at"], row["id"]))
    body = write(PageRows(rows[: params.limit], str(request.url), next_url))
    headers = {"Link": _link(next_url)} if next_url is not None else None
    return Response(body, media_type=JSON, headers=headers)


def page_body(page: PageRows, item: Callable[[Mapping[str, Any]], dict[str, Any]]) -> bytes:
    """A page's JSON from its rows: ``item`` turns a row into its item's plain values, in the
    item model's order."""
    links = {"self": page.self_url, "next": page.next_url}
    return dump_json({"items": [item(row) for row in page.rows], "links": links})


def _next_url(
    request: Request,
    rows: Sequence[Any],
    params: PageParams,
    sort_key: Callable[[Any], tuple[datetime, uuid.UUID]],
) -> str | None:
    if len(rows) <= params.limit:
        return None
    cursor = encode_cursor(*sort_key(rows[params.limit - 1]))
    return str(request.url.include_query_params(cursor=cursor))


def _link(next_url: str) -> str:
    return f'<{next_url}>; rel="next"'
