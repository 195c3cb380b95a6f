"""The organisation tree, walked in SQL with recursive CTEs (one query whatever the depth)."""

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import CTE, ColumnElement, func, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Mapped, aliased
from sqlmodel import col
from sqlmodel import select as sqlmodel_select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import ReadContext, fetch, side_transaction
from app.models import (
    Activity,
    ActivityAsset,
    Asset,
    Organisation,
    OrganisationRecords,
    PlanItem,
    PlanItemActivity,
    PlanItemAsset,
)
from app.organisations import queries

if TYPE_CHECKING:
    from app.db import Sessions


def descendants(root_id: uuid.UUID | ColumnElement[uuid.UUID], *, name: str = "subtree") -> CTE:
    """The root and every organisation below it, as (id, parent_id).

    UNION, not UNION ALL, and no depth cut-off: a row already seen is not walked again, so
    the walk ends on any tree, however deep, and even on a corrupted (cyclic) one. ``name``
    tells two walks in one statement apart (a subtree filtered by the caller's scope)."""
    org = Organisation.__table__.c  # type: ignore[attr-defined]
    tree = select(org.id, org.parent_id).where(org.id == root_id).cte(name, recursive=True)
    child = aliased(Organisation.__table__)  # type: ignore[attr-defined]
    return tree.union(select(child.c.id, child.c.parent_id).where(child.c.parent_id == tree.c.id))


def organisation_scope(
    column: Mapped[uuid.UUID] | ColumnElement[uuid.UUID],
    organisation_id: uuid.UUID | ColumnElement[uuid.UUID],
    *,
    all_levels: bool,
) -> ColumnElement[bool]:
    """A condition on an organisation_id column: this organisation, or its whole subtree."""
    if not all_levels:
        return column == organisation_id
    tree = descendants(organisation_id)
    return column.in_(select(tree.c.id))


async def ancestor_ids(
    reads: ReadContext, organisation_id: uuid.UUID, *, include_self: bool
) -> list[uuid.UUID]:
    """From the organisation (if asked) up to the root, nearest first. No depth cut-off (see
    descendants); the order is rebuilt from the parent links."""
    rows = await fetch(reads, queries.ANCESTORS, {"organisation_id": organisation_id})
    parents: dict[uuid.UUID, uuid.UUID | None] = {row["id"]: row["parent_id"] for row in rows}
    ordered: list[uuid.UUID] = []
    current: uuid.UUID | None = organisation_id
    while current is not None and current in parents and current not in ordered:
        ordered.append(current)
        current = parents[current]
    return ordered if include_self else ordered[1:]


# Any fixed number: it names "the organisation tree" for PostgreSQL's advisory locks.
TREE_LOCK = 7_345_001


async def lock_tree(session: AsyncSession, *, shared: bool = False) -> None:
    """Serialise changes that depend on the shape of the tree, until the transaction ends.

    Moves take it exclusively: two opposite moves checked at once could make a cycle, and a
    move must not run beside a write that links an activity to an asset above it. Those link
    writes take it shared, so they run side by side but never beside a move. SQLite writers
    are serialised already (BEGIN IMMEDIATE)."""
    if (await session.connection()).dialect.name == "postgresql":
        lock = func.pg_advisory_xact_lock_shared if shared else func.pg_advisory_xact_lock
        await session.exec(sqlmodel_select(lock(TREE_LOCK)))


async def links_outside(
    session: AsyncSession, organisation_id: uuid.UUID, *, allowed_above: list[uuid.UUID]
) -> int:
    """Links from activities and plan items in the organisation's subtree to assets (and from
    plan items to activities) of organisations outside it that are not in ``allowed_above``
    (the ancestors it would have after a move)."""
    tree = descendants(organisation_id)
    inside = sqlmodel_select(tree.c.id)
    # (link table, its source table and column, its target table and column)
    links: tuple[tuple[Any, Any, Any, Any, Any], ...] = (
        (ActivityAsset, Activity, ActivityAsset.activity_id, Asset, ActivityAsset.asset_id),
        (PlanItemAsset, PlanItem, PlanItemAsset.plan_item_id, Asset, PlanItemAsset.asset_id),
        (
            PlanItemActivity,
            PlanItem,
            PlanItemActivity.plan_item_id,
            Activity,
            PlanItemActivity.activity_id,
        ),
    )
    total = 0
    for link, source, source_key, target, target_key in links:
        count = await session.exec(
            sqlmodel_select(func.count())
            .select_from(link)
            .join(source, col(source.id) == col(source_key))
            .join(target, col(target.id) == col(target_key))
            .where(
                col(source.organisation_id).in_(inside),
                col(target.organisation_id).not_in(inside),
                col(target.organisation_id).not_in(allowed_above),
            )
        )
        total += int(count.one())
    return total


async def forget_deleted_revisions(sessions: "Sessions") -> int:
    """Drop the records revisions of organisations that no longer exist (the table has no
    foreign key: see the migration that made it). Run by the housekeeping chore."""
    async with side_transaction(sessions) as session:
        result = await session.exec(
            sql_delete(OrganisationRecords).where(
                col(OrganisationRecords.organisation_id).not_in(select(col(Organisation.id)))
            )
        )
    return int(result.rowcount or 0)
