"""Steps every domain service shares on versioned rows: fetch (or NotFound), lock for update,
check the version the caller expects, apply a change and bump the version."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import utcnow
from app.errors import NotFound, StaleVersion

M = TypeVar("M", bound=SQLModel)


@dataclass(frozen=True)
class ExpectedVersion:
    """The versions a caller's write accepts (from If-Match); ``any_version`` for ``*``."""

    versions: frozenset[int]
    any_version: bool = False

    def check(self, *, current: int, what: str) -> None:
        if not self.any_version and current not in self.versions:
            raise StaleVersion(
                f"{what} is at version {current}, which is not the version you read: it "
                "changed since. Fetch it again, then retry with the new ETag.",
                current_version=current,
            )


async def get_or_404(
    session: AsyncSession, model: type[M], row_id: uuid.UUID, *, for_update: bool = False
) -> M:
    statement = select(model).where(model.id == row_id)  # type: ignore[attr-defined]
    if for_update:
        # FOR NO KEY UPDATE on PostgreSQL: blocks other writers of this row but not inserts of
        # its children. SQLite writers already hold the database lock (BEGIN IMMEDIATE).
        statement = statement.with_for_update(key_share=True)
    row = (await session.exec(statement)).first()
    if row is None:
        raise NotFound(f"{model.__name__} {row_id} does not exist.")
    return row


async def get_for_write(
    session: AsyncSession, model: type[M], row_id: uuid.UUID, expected: ExpectedVersion
) -> M:
    """Lock the row and check the caller's precondition before anything else: a stale
    If-Match is a 412 whatever else is wrong with the request (RFC 9110, section 13.2.2)."""
    row = await get_or_404(session, model, row_id, for_update=True)
    expected.check(current=row.version, what=f"{model.__name__} {row_id}")  # type: ignore[attr-defined]
    return row


class Versioned(Protocol):
    id: uuid.UUID
    version: int
    updated_at: datetime


def apply(row: Versioned, updates: dict[str, Any], *, also_changed: bool = False) -> bool:
    """Write the fields; bump version and updatedAt only when something changed, so an empty
    PATCH does not invalidate other clients' ETags. Returns whether anything changed."""
    changed = {k: v for k, v in updates.items() if getattr(row, k) != v}
    if not changed and not also_changed:  # also_changed: a child collection (tags, links)
        return False
    for name, value in changed.items():
        setattr(row, name, value)
    row.version += 1
    row.updated_at = utcnow()
    return True


async def children(
    session: AsyncSession, parent_column: Any, value_column: Any, parent_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    """One query for the child values of many parents (tags of a page of assets, ...)."""
    grouped: dict[uuid.UUID, list[Any]] = {parent_id: [] for parent_id in parent_ids}
    if parent_ids:
        rows = await session.exec(
            select(parent_column, value_column).where(parent_column.in_(parent_ids))
        )
        for parent_id, value in rows:
            grouped[parent_id].append(value)
    # Sorted here, not in SQL: PostgreSQL's collation would order "a-b" and "a.b" differently.
    return {parent_id: sorted(values) for parent_id, values in grouped.items()}
