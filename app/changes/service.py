"""Reading the change feed: audit events of changes (not exports), by position, in the
caller's scope.

The page never reads past the feed clock as read before it: every position up to the clock
is committed by then (the database gives positions in commit order, see the migration that
made them), so a page is a prefix of what will ever be at those positions, and the cursor it
returns never moves past a change still to come. When the page holds everything up to the
clock, the next cursor is the clock itself, so a scoped caller does not walk again through
others' changes it cannot see."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlmodel import col

from app.auth.principal import Principal
from app.changes import cursor as feed_cursor
from app.db import ReadContext, Row, fetch_in_transaction
from app.models import AuditEvent, FeedClock
from app.organisations import hierarchy
from app.vocabulary import AuditAction, ResourceType

# What the feed carries: changes. An export changes nothing.
CHANGE_ACTIONS = (AuditAction.CREATE, AuditAction.UPDATE, AuditAction.DELETE)
# Audited, but not part of the map a portal mirrors: credentials (which only admins may list)
# and the signed links handed to browsers. Every other resource type, a new one included,
# appears without a change here.
NOT_IN_FEED = (ResourceType.API_KEY, ResourceType.REPORT_LINK)
# Where each resource is read; a type missing here is served with a null link.
LINKS: dict[ResourceType, str] = {
    ResourceType.ORGANISATION: "/v1/organisations/{id}",
    ResourceType.ASSET: "/v1/assets/{id}",
    ResourceType.ACTIVITY: "/v1/activities/{id}",
    ResourceType.PLAN_ITEM: "/v1/plan-items/{id}",
    ResourceType.ASSESSMENT: "/v1/assessments/{id}",
    ResourceType.REFERENCE_MODEL: "/v1/reference-models/{id}",
}


def link(resource_type: str, resource_id: str) -> str | None:
    template = LINKS.get(ResourceType(resource_type))
    return None if template is None else template.format(id=resource_id)


@dataclass(frozen=True)
class FeedPage:
    entries: Sequence[Row]
    # The cursor to ask with next; ``more`` when the page was cut at the limit.
    next_position: int
    more: bool


def _in_scope(principal: Principal) -> ColumnElement[bool] | None:
    """A scoped caller's changes: those of organisations now in its subtree; deletions of an
    organisation (and of its records) whose parent is, and moves of an organisation out from
    under one that is; and what belongs to no organisation (the shared reference models,
    which every caller may read)."""
    if principal.organisation_id is None:
        return None
    tree = select(hierarchy.descendants(principal.organisation_id).c.id)
    return or_(
        col(AuditEvent.organisation_id).in_(tree),
        col(AuditEvent.parent_organisation_id).in_(tree),
        col(AuditEvent.organisation_id).is_(None),
    )


async def head(reads: ReadContext) -> int:
    """The last position given: every change at or before it has committed."""
    async with reads.factory().read() as session:
        rows = await fetch_in_transaction(session, select(col(FeedClock.position)))
    return int(rows[0][0]) if rows else 0


async def page(
    reads: ReadContext,
    *,
    principal: Principal,
    after: feed_cursor.Cursor | None,
    limit: int,
    now: datetime,
    retention: timedelta,
) -> FeedPage:
    """Up to ``limit`` changes after the cursor (with none: from the oldest within the
    retention), oldest first."""
    clock = await head(reads)
    event = AuditEvent.__table__.c  # type: ignore[attr-defined]
    statement = (
        select(
            event.position,
            event.id,
            event.resource_type,
            event.resource_id,
            event.organisation_id,
            event.action,
            event.version,
            event.occurred_at,
        )
        .where(
            event.position <= clock,
            event.action.in_(CHANGE_ACTIONS),
            event.resource_type.not_in(NOT_IN_FEED),
        )
        .order_by(event.position)
        .limit(limit + 1)
    )
    if after is None:
        statement = statement.where(event.occurred_at >= now - retention)
    else:
        statement = statement.where(event.position > after.position)
    scope = _in_scope(principal)
    if scope is not None:
        statement = statement.where(scope)
    async with reads.factory().read() as session:
        rows = [row._mapping for row in await fetch_in_transaction(session, statement)]
    if len(rows) > limit:
        return FeedPage(rows[:limit], int(rows[limit - 1]["position"]), more=True)
    # Everything up to the clock has been read: the next page starts after it, never before
    # the caller's own cursor (a clock read before a restore could be behind it).
    floor = after.position if after is not None else 0
    return FeedPage(rows, max(clock, floor), more=False)


def entry_id(row: Row) -> uuid.UUID:
    value = row["id"]
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
