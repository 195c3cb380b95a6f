"""The few steps every domain's service shares: fetch or 404, lock for update, patch, bump."""

import uuid
from datetime import datetime
from enum import Enum
from typing import Any, Protocol, TypeVar

from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.api import ApiPatch
from app.concurrency import Expected
from app.db import utcnow
from app.errors import FieldIssue, NotFound, ValidationFailed

M = TypeVar("M", bound=SQLModel)


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


def changes(data: ApiPatch) -> dict[str, Any]:
    """The fields a PATCH body set; ``null`` is refused for fields that cannot be empty."""
    updates = data.model_dump(exclude_unset=True)
    nulls = [name for name in sorted(data.not_null) if updates.get(name, ...) is None]
    if nulls:
        fields = type(data).model_fields
        raise ValidationFailed(
            "Required fields cannot be cleared.",
            errors=[
                FieldIssue(f"#/{fields[name].alias or name}", "Cannot be null.") for name in nulls
            ],
        )
    return updates


class Versioned(Protocol):
    id: uuid.UUID
    version: int
    updated_at: datetime


def apply(
    row: Versioned, updates: dict[str, Any], *, expected: Expected, also_changed: bool = False
) -> None:
    """Check the caller's If-Match, then write the fields; bump version and updatedAt only
    when something changed, so an empty PATCH does not invalidate other clients' ETags."""
    expected.check(current=row.version, what=f"{type(row).__name__} {row.id}")
    changed = {k: v for k, v in updates.items() if getattr(row, k) != v}
    if not changed and not also_changed:  # also_changed: a child collection (tags, links)
        return
    for name, value in changed.items():
        setattr(row, name, value)
    row.version += 1
    row.updated_at = utcnow()


def plain(values: dict[str, Any]) -> dict[str, Any]:
    """Enum members as their stored values, for the string columns."""
    return {k: v.value if isinstance(v, Enum) else v for k, v in values.items()}


async def children(
    session: AsyncSession, parent_column: Any, value_column: Any, parent_ids: list[uuid.UUID]
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
