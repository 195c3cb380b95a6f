"""The national views' use cases: each top-level system's summary, and each capability's
coverage, over every organisation the caller can read.

Worked out once per state of the data, then remembered. What names that state is read on
every request, outside a transaction, in one set-based statement: every readable
organisation's place in the tree, name, kind, region, review date, row time and the records
revision the database bumps on every change to its assets, activities, assessments and plan
items (as the system view's key, app.analysis.peers.state_of, for the whole service). So
every instance that reads the same rows answers the same figures, and a change through any
of them is in the next answer of all of them. Only a miss reads the records, as aggregates
in one snapshot, and works the figures out in a worker thread; callers that miss meanwhile
wait for that one (app.singleflight)."""

import uuid
from collections.abc import Hashable, Mapping, Sequence
from datetime import date
from typing import Any

import anyio
from cachetools import LRUCache
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app import caches
from app.analysis import loading, peers
from app.auth.principal import Principal
from app.db import ReadContext, Rows, fetch, fetch_in_transaction, reads_in, utcnow
from app.models import Activity, Asset
from app.national import figures, queries
from app.national.figures import Figures, Listed, Recorded
from app.national.schemas import CoverageGroupBy, NationalCoverage
from app.organisations import hierarchy
from app.pagination import PageParams, decode_cursor
from app.reference import service as reference_service
from app.reference.schemas import ReferenceModelPublic
from app.singleflight import SingleFlight
from app.vocabulary import OrganisationType

remembered: LRUCache[Hashable, Figures] = caches.lru(caches.NATIONAL_FIGURES)
_working_out: SingleFlight[Figures] = SingleFlight()


async def systems_page(
    reads: ReadContext, *, principal: Principal, page: PageParams
) -> list[Listed]:
    """A page of the top-level systems the caller can read, oldest first (one more when
    another page follows), against the default model."""
    found = await _figures(reads, principal, None)
    systems = found.systems
    if page.cursor is not None:
        after = decode_cursor(page.cursor)
        systems = [s for s in systems if (s.created_at, s.id) > after]
    return systems[: page.limit + 1]


async def coverage(
    reads: ReadContext,
    *,
    principal: Principal,
    group_by: CoverageGroupBy,
    model_version: str | None,
) -> NationalCoverage:
    found = await _figures(reads, principal, model_version)
    answer = found.coverage.get(group_by)
    if answer is None:
        answer = await anyio.to_thread.run_sync(figures.coverage, found, group_by)
        found.coverage[group_by] = answer
    return answer


async def _figures(reads: ReadContext, principal: Principal, model_version: str | None) -> Figures:
    today = utcnow().date()
    forest = await _forest(reads, principal)
    model, row_version = await _model(reads, principal, model_version)
    key = _key(reads, principal, forest, (model.version, row_version), today)
    found = caches.hit(remembered, key)
    if found is not None:
        return found
    return await _working_out.do(key, lambda: _work_out(reads, principal, model_version, today))


async def _work_out(
    reads: ReadContext, principal: Principal, model_version: str | None, today: date
) -> Figures:
    async with reads.snapshot() as session:
        snapshot = reads_in(session)
        forest = await _forest(snapshot, principal)
        model, row_version = await _model(snapshot, principal, model_version)
        system = _system(principal, forest)
        rows = await peers.aggregated_rows(session, system)
        recorded = await _recorded(session, principal, forest)
    found = await anyio.to_thread.run_sync(
        figures.work_out,
        system,
        {row["id"]: row["ods_code"] for row in forest},
        {row["id"]: row["created_at"] for row in forest},
        rows,
        recorded,
        model,
    )
    # Under the key of the snapshot it was worked out from.
    remembered[_key(reads, principal, forest, (model.version, row_version), today)] = found
    return found


async def _forest(reads: ReadContext, principal: Principal) -> Rows:
    if principal.organisation_id is None:
        return await fetch(reads, queries.EVERYWHERE, {})
    return await fetch(reads, queries.BELOW, {"scope_id": principal.organisation_id})


async def _model(
    reads: ReadContext, principal: Principal, version: str | None
) -> tuple[ReferenceModelPublic, int]:
    """The model asked for (by default the default one); a scoped caller may name its own
    organisation's variant, as in its analyses."""
    owners: list[uuid.UUID] = []
    if principal.organisation_id is not None and version is not None:
        owners = await hierarchy.ancestor_ids(reads, principal.organisation_id, include_self=True)
    return await reference_service.chosen(reads, version, owners=owners)


def _key(
    reads: ReadContext,
    principal: Principal,
    forest: Rows,
    model_key: Hashable,
    today: date,
) -> Hashable:
    """Everything the figures are worked out from: the database, the caller's scope, every
    readable organisation's row as read (records revision included), the model, the day."""
    rows = frozenset(tuple(row.values()) for row in forest)
    return (reads.factory().identity, principal.organisation_id, rows, model_key, today)


def _system(principal: Principal, forest: Rows) -> loading.System:
    """The readable organisations as one tree; a scoped caller's is cut at its scope (what
    is above is not there for it, as in its analyses)."""
    scope = principal.organisation_id

    def parent(row: Mapping[str, Any]) -> uuid.UUID | None:
        return None if row["id"] == scope else row["parent_id"]

    return loading.System(
        scope or uuid.UUID(int=0),
        {row["id"]: row["name"] for row in forest},
        {row["id"]: parent(row) for row in forest},
        {row["id"]: OrganisationType(row["organisation_type"]) for row in forest},
        {row["id"]: int(row["revision"]) for row in forest},
        {row["id"]: row["next_review_due"] for row in forest},
        {row["id"]: row["region"] for row in forest},
    )


async def _recorded(
    session: AsyncSession, principal: Principal, forest: Sequence[Mapping[str, Any]]
) -> dict[uuid.UUID, Recorded]:
    """Per organisation: its assets and activities counted, and when it or any of them last
    changed (two grouped reads, whatever the number of organisations)."""
    counts: dict[str, dict[uuid.UUID, tuple[int, Any]]] = {}
    for name, table in (("assets", Asset), ("activities", Activity)):
        statement = queries.record_counts(table)
        if principal.organisation_id is not None:
            statement = statement.where(col(table.organisation_id).in_([r["id"] for r in forest]))
        rows = await fetch_in_transaction(session, statement)
        counts[name] = {owner: (int(total), latest) for owner, total, latest in rows}
    found = {}
    for row in forest:
        assets, assets_changed = counts["assets"].get(row["id"], (0, None))
        activities, activities_changed = counts["activities"].get(row["id"], (0, None))
        stamps = [row["updated_at"], assets_changed, activities_changed]
        found[row["id"]] = Recorded(
            assets, activities, max(stamp for stamp in stamps if stamp is not None)
        )
    return found
