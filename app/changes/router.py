"""HTTP for the change feed: ``GET /v1/changes``."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api import problem_responses
from app.auth.dependencies import PrincipalDep
from app.changes import cursor as feed_cursor
from app.changes import service
from app.changes.schemas import ChangeEntry, ChangeFeedPage, ChangeLinks
from app.config import Settings
from app.db import ReadsDep, utcnow
from app.pagination import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(tags=["changes"])

AfterQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="The `next` of the previous page (or an entry's `cursor`). Absent: from the "
        "oldest change within the retention. `now`: no entries, and the cursor of now.",
    ),
]
LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT}).")
]


# problem_responses' 410 speaks of Idempotency-Keys: here it is the cursor that is gone.
RESPONSES = problem_responses(400, 410, 422)
RESPONSES[410] = RESPONSES[410] | {
    "description": "CURSOR_EXPIRED: the cursor is older than the feed's retention; re-read "
    "everything, then follow from after=now"
}


@router.get("/changes", operation_id="changes-list", responses=RESPONSES)
async def list_changes(
    principal: PrincipalDep,
    reads: ReadsDep,
    request: Request,
    response: Response,
    after: AfterQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> ChangeFeedPage:
    """What changed (created, updated, deleted) in the caller's scope, in commit order: a
    client that keeps the last cursor never misses or repeats a change. Deletions made by an
    organisation's deletion (its assets, activities, plan items) are listed too. When nothing
    is new the page is empty and Retry-After says when to ask again. A cursor older than the
    retention answers 410 CURSOR_EXPIRED."""
    settings: Settings = request.app.state.settings
    now = utcnow()
    retention = timedelta(days=settings.change_feed_retention_days)
    if after == feed_cursor.NOW:
        page = service.FeedPage([], await service.head(reads), more=False)
    else:
        decoded = None if after is None else feed_cursor.decode(after)
        if decoded is not None:
            feed_cursor.check_age(decoded, now=now, retention=retention)
        page = await service.page(
            reads, principal=principal, after=decoded, limit=limit, now=now, retention=retention
        )
    next_cursor = feed_cursor.encode(page.next_position, now)
    if not page.entries:
        response.headers["Retry-After"] = str(settings.change_feed_retry_after_seconds)
    items = [
        ChangeEntry(
            cursor=feed_cursor.encode(int(row["position"]), now),
            event_id=service.entry_id(row),
            resource_type=row["resource_type"],
            resource_id=row["resource_id"],
            organisation_id=row["organisation_id"],
            action=row["action"],
            version=row["version"],
            occurred_at=row["occurred_at"],
            link=service.link(row["resource_type"], row["resource_id"]),
        )
        for row in page.entries
    ]
    return ChangeFeedPage(
        items=items,
        next=next_cursor,
        more=page.more,
        links=ChangeLinks(
            self=str(request.url),
            next=str(request.url.include_query_params(after=next_cursor)),
        ),
    )
