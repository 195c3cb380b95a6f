"""The organisation tree, walked in SQL with recursive CTEs (one query whatever the depth).

Both walks stop at MAX_DEPTH: updates refuse cycles, and the bound keeps a corrupted tree from
looping forever.
"""

import uuid

from sqlalchemy import CTE, func, literal, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel import select as sqlmodel_select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Activity, ActivityAsset, Asset, Organisation

MAX_DEPTH = 32


def descendants(root_id: uuid.UUID) -> CTE:
    """The root (depth 0) and every organisation below it, with its depth."""
    org = Organisation.__table__.c  # type: ignore[attr-defined]
    tree = (
        select(org.id, org.parent_id, literal(0).label("depth"))
        .where(org.id == root_id)
        .cte("subtree", recursive=True)
    )
    child = aliased(Organisation.__table__)  # type: ignore[attr-defined]
    return tree.union_all(
        select(child.c.id, child.c.parent_id, tree.c.depth + 1).where(
            child.c.parent_id == tree.c.id, tree.c.depth < MAX_DEPTH
        )
    )


async def ancestor_ids(
    session: AsyncSession, organisation_id: uuid.UUID, *, include_self: bool
) -> list[uuid.UUID]:
    """From the organisation (if asked) up to the root, nearest first."""
    org = Organisation.__table__.c  # type: ignore[attr-defined]
    chain = (
        select(org.id, org.parent_id, literal(0).label("depth"))
        .where(org.id == organisation_id)
        .cte("ancestors", recursive=True)
    )
    parent = aliased(Organisation.__table__)  # type: ignore[attr-defined]
    chain = chain.union_all(
        select(parent.c.id, parent.c.parent_id, chain.c.depth + 1).where(
            parent.c.id == chain.c.parent_id, chain.c.depth < MAX_DEPTH
        )
    )
    rows = await session.exec(sqlmodel_select(chain.c.id, chain.c.depth).order_by(chain.c.depth))
    return [row_id for row_id, depth in rows if include_self or depth > 0]


# Any fixed number: it names "the organisation tree" for PostgreSQL's advisory locks.
TREE_LOCK = 7_345_001


async def lock_tree(session: AsyncSession) -> None:
    """Serialise moves within the tree: two opposite moves checked at once could make a cycle.
    SQLite writers are serialised already."""
    if (await session.connection()).dialect.name == "postgresql":
        await session.exec(sqlmodel_select(func.pg_advisory_xact_lock(TREE_LOCK)))


async def links_outside(
    session: AsyncSession, organisation_id: uuid.UUID, *, allowed_above: list[uuid.UUID]
) -> int:
    """Links from activities in the organisation's subtree to assets of organisations outside
    it that are not in ``allowed_above`` (the ancestors it would have after a move)."""
    tree = descendants(organisation_id)
    inside = sqlmodel_select(tree.c.id)
    count = await session.exec(
        sqlmodel_select(func.count())
        .select_from(ActivityAsset)
        .join(Activity, col(Activity.id) == col(ActivityAsset.activity_id))
        .join(Asset, col(Asset.id) == col(ActivityAsset.asset_id))
        .where(
            col(Activity.organisation_id).in_(inside),
            col(Asset.organisation_id).not_in(inside),
            col(Asset.organisation_id).not_in(allowed_above),
        )
    )
    return int(count.one())
