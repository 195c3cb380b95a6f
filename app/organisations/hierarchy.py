"""The organisation tree, walked in SQL with recursive CTEs (one query whatever the depth).

Both walks stop at MAX_DEPTH: updates refuse cycles, and the bound keeps a corrupted tree from
looping forever.
"""

import uuid

from sqlalchemy import CTE, literal, select
from sqlalchemy.orm import aliased
from sqlmodel import select as sqlmodel_select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Organisation

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
