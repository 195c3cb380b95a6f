"""The benchmarks' SQL: the snapshot's row, its entries, and the organisations it covers."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.benchmarks.rule import Entry
from app.models import BenchmarkEntry, BenchmarkSnapshot, Organisation
from app.organisations import hierarchy
from app.vocabulary import OrganisationType


async def roots(session: AsyncSession) -> list[uuid.UUID]:
    """The top-level organisations: each is a system of its own."""
    rows = await session.exec(select(Organisation.id).where(col(Organisation.parent_id).is_(None)))
    return list(rows.all())


async def flags(session: AsyncSession) -> dict[uuid.UUID, tuple[bool, bool]]:
    """Per organisation: (is demo, opted out)."""
    rows = await session.exec(
        select(Organisation.id, Organisation.is_demo, Organisation.benchmark_opt_out)
    )
    return {row[0]: (row[1], row[2]) for row in rows.all()}


async def taken(session: AsyncSession) -> tuple[datetime | None, str | None]:
    row = await session.get(BenchmarkSnapshot, 1)
    return (None, None) if row is None else (row.taken_at, row.reference_model)


async def claim(
    session: AsyncSession, *, seen: datetime | None, now: datetime, model: str, force: bool
) -> bool:
    """Move the snapshot's time on from ``seen`` (compare and set): True for the one refresh
    that wins; another that read the same time finds it moved, and skips. A forced refresh
    (the operator's) always wins, and still waits for the row's lock."""
    statement = update(BenchmarkSnapshot).where(col(BenchmarkSnapshot.id) == 1)
    if not force:
        taken_at = col(BenchmarkSnapshot.taken_at)
        statement = statement.where(taken_at.is_(None) if seen is None else taken_at == seen)
    result: Any = await session.exec(statement.values(taken_at=now, reference_model=model))
    return bool(result.rowcount == 1)


async def replace(session: AsyncSession, entries: Sequence[dict[str, Any]]) -> None:
    await session.exec(delete(BenchmarkEntry))
    if entries:
        await session.exec(insert(BenchmarkEntry), params=list(entries))


async def entries_of_type(
    session: AsyncSession, organisation_type: OrganisationType
) -> list[Entry]:
    # Columns, not mapped objects: a national type (6,300 practices) is some 200,000 entries,
    # and building an ORM object for each cost most of a second.
    entry = BenchmarkEntry
    rows = await session.exec(
        sa_select(  # type: ignore[call-overload]
            col(entry.organisation_id),
            col(entry.figure),
            col(entry.system_id),
            col(entry.is_demo),
            col(entry.opted_out),
            col(entry.value),
        ).where(col(entry.organisation_type) == organisation_type)
    )
    return [Entry(*row) for row in rows.all()]


async def own_entries(
    session: AsyncSession, organisation_id: uuid.UUID
) -> tuple[list[Entry], OrganisationType | None]:
    """The organisation's own entries, and its type when the snapshot was taken (plain
    values: the snapshot's session is gone before they are used)."""
    rows = await session.exec(
        select(BenchmarkEntry).where(col(BenchmarkEntry.organisation_id) == organisation_id)
    )
    found = list(rows.all())
    kind = found[0].organisation_type if found else None
    return [
        Entry(r.organisation_id, r.figure, r.system_id, r.is_demo, r.opted_out, r.value)
        for r in found
    ], kind


async def subtree_ids(session: AsyncSession, root_id: uuid.UUID) -> frozenset[uuid.UUID]:
    tree = hierarchy.descendants(root_id)
    rows = await session.exec(sa_select(tree.c.id))  # type: ignore[call-overload]
    return frozenset(rows.scalars().all())
