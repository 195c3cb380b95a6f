"""The HTTP half of pagination: the page parameters, and the links to the next page (in the
body and in an RFC 8288 ``Link`` header). The SQL half is app.pagination."""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

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


def keyset_of(row: Any) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) keyset a list is ordered by, of a record or of a row read by
    column name (a SQLAlchemy mapping, or an asyncpg Record, which is no Mapping)."""
    if hasattr(row, "keys"):
        return row["created_at"], row["id"]
    return row.created_at, row.id


@dataclass(frozen=True, slots=True)
class PageOf(Generic[T]):
    """A page's items and its links, answered as a contract model or straight as JSON."""

    items: list[T]
    self_url: str
    next_url: str | None

    def headers(self) -> dict[str, str]:
        # RFC 8288: the next page in a header too.
        return {"Link": f'<{self.next_url}>; rel="next"'} if self.next_url is not None else {}

    def model(self, page_class: type[P], response: Response) -> P:
        """The page as its contract model (FastAPI serialises it)."""
        response.headers.update(self.headers())
        return page_class(items=self.items, links=Links(self=self.self_url, next=self.next_url))

    def written(
        self: "PageOf[Mapping[str, Any]]", write: Callable[["PageRows"], bytes]
    ) -> Response:
        """The page written straight from its rows (the items are the rows) by ``write``: only
        for a list registered in app.http.answers, which says why and is tested to give the
        page model's bytes."""
        return Response(
            write(PageRows(self.items, self.self_url, self.next_url)),
            media_type=JSON,
            headers=self.headers() or None,
        )


def build_page(
    request: Request,
    rows: Sequence[Any],
    params: PageParams,
    item: Callable[[Any], T],
    *,
    sort_key: Callable[[Any], tuple[datetime, uuid.UUID]] = keyset_of,
) -> PageOf[T]:
    """The one page helper: trim the look-ahead row, make each row an item, and link the next
    page (keyset from the last row shown).

    ``sort_key`` gives a row's keyset: the columns the list's query was ordered by (a table
    whose time column is not ``created_at`` says which it is)."""
    next_url = None
    if len(rows) > params.limit:
        cursor = encode_cursor(*sort_key(rows[params.limit - 1]))
        next_url = str(request.url.include_query_params(cursor=cursor))
    return PageOf([item(row) for row in rows[: params.limit]], str(request.url), next_url)


@dataclass(frozen=True)
class PageRows:
    """What a hand-written page is written from: its rows (without the look-ahead row) and its
    links."""

    rows: Sequence[Mapping[str, Any]]
    self_url: str
    next_url: str | None


def page_body(page: PageRows, item: Callable[[Mapping[str, Any]], dict[str, Any]]) -> bytes:
    """A page's JSON from its rows: ``item`` turns a row into its item's plain values, in the
    item model's order."""
    links = {"self": page.self_url, "next": page.next_url}
    return dump_json({"items": [item(row) for row in page.rows], "links": links})
