"""The national views' use cases: each top-level system's summary, and each capability's
coverage, over every organisation the caller can read.

Keyed on the data, never on in-process invalidation, so every instance that reads the same
rows answers the same figures and a change through any of them is in the next answer of all:

- Each request reads one row (queries.FINGERPRINT: the readable organisations' count, the sum
  of their records revisions, which the database bumps on every change to a record, the sum of
  their row versions, and their latest times). The same row, caller's scope, model and day
  give the remembered answer.
- Otherwise every readable organisation is read (its place, kind, records revision) in one
  snapshot, and each one's ``Standing`` is reused while its own revision, its kind and what
  those above it share with it (one grouped read of shared assets) are the same. Only the
  organisations a change touched are read again (as aggregates, in one query) and worked out,
  in a worker thread; callers that miss meanwhile wait for that one (app.singleflight).
- A standing this process does not hold is read from the database, where whoever worked it
  out kept it (``organisation_standing``) with the digest of what it was worked out from
  (figures.inputs_digest): a new worker or instance reads 8,000 of them in a fraction of a
  second instead of crediting the whole country again. What is worked out is kept, in a
  transaction of its own on the primary.
"""

import logging
import uuid
from collections.abc import Hashable, Mapping, Sequence
from datetime import date
from typing import Any

import anyio
from cachetools import LRUCache
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app import caches
from app.analysis import loading, peers
from app.auth.principal import Principal
from app.db import (
    ReadContext,
    Rows,
    fetch,
    fetch_in_transaction,
    reads_in,
    side_transaction,
    utcnow,
)
from app.models import Activity, Asset
from app.national import figures, queries
from app.national.figures import Figures, Listed, Recorded, Standing
from app.national.schemas import CoverageGroupBy, NationalCoverage
from app.organisations import hierarchy
from app.pagination import PageParams, decode_cursor
from app.reference import service as reference_service
from app.reference.schemas import ReferenceModelPublic
from app.singleflight import SingleFlight
from app.vocabulary import OrganisationType

logger = logging.getLogger(__name__)
# Rows per statement when keeping standings (8,000 at once after a national import).
_KEEP_BATCH = 1_000

remembered: LRUCache[Hashable, Figures] = caches.lru(caches.NATIONAL_FIGURES)
standings: LRUCache[Hashable, Standing] = caches.lru(caches.NATIONAL_STANDINGS)
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
    model, row_version = await _model(reads, principal, model_version)
    key = await _key(reads, principal, (model.version, row_version), today)
    found = caches.hit(remembered, key)
    if found is not None:
        return found
    return await _working_out.do(key, lambda: _work_out(reads, principal, model_version, today))


async def _key(
    reads: ReadContext, principal: Principal, model_key: Hashable, today: date
) -> Hashable:
    """What the figures are worked out from: the database, the caller's scope, the forest's
    fingerprint, the model, the day."""
    if principal.organisation_id is None:
        rows = await fetch(reads, queries.FINGERPRINT, {})
    else:
        rows = await fetch(reads, queries.FINGERPRINT_BELOW, {"root_id": principal.organisation_id})
    scope = principal.organisation_id
    return (reads.factory().identity, scope, tuple(rows[0].values()), model_key, today)


async def _work_out(
    reads: ReadContext, principal: Principal, model_version: str | None, today: date
) -> Figures:
    database = reads.factory().identity
    async with reads.snapshot() as session:
        snapshot = reads_in(session)
        model, row_version = await _model(snapshot, principal, model_version)
        model_key = (model.version, row_version)
        key = await _key(snapshot, principal, model_key, today)
        forest_rows = await _forest(snapshot, principal)
        forest = _system(principal, forest_rows)
        shared = await _shared(session)
        keys = {m: (database, m, _inputs(forest, m, shared), model_key) for m in forest.parents}
        known = {m: s for m, k in keys.items() if (s := caches.hit(standings, k)) is not None}
        missing = [m for m in forest.parents if m not in known]
        rows = recorded = None
        digests: dict[uuid.UUID, str] = {}
        if missing:
            # Then what another worker or instance kept, where it was worked out from the same.
            model_digest = figures.model_digest(model)
            digests = {m: figures.inputs_digest(keys[m][2], model_digest) for m in missing}
            kept = await _kept(snapshot, principal, model.version, digests)
            for organisation, standing in kept.items():
                standings[keys[organisation]] = standing
            known |= kept
            missing = [m for m in missing if m not in kept]
        if missing:
            rows = await peers.aggregated_rows(session, _with_ancestors(forest, missing))
            recorded = await _recorded(session, missing)
    if rows is not None and recorded is not None:
        worked = await anyio.to_thread.run_sync(
            figures.standings, forest, missing, rows, recorded, model
        )
        for organisation, standing in worked.items():
            standings[keys[organisation]] = standing
        known |= worked
        await _keep(reads, model.version, {m: (digests[m], worked[m]) for m in worked})
    found = await anyio.to_thread.run_sync(
        figures.assemble,
        forest,
        {row["id"]: row["ods_code"] for row in forest_rows},
        {row["id"]: row["created_at"] for row in forest_rows},
        {row["id"]: row["updated_at"] for row in forest_rows},
        known,
        model,
    )
    # Under the fingerprint of the snapshot it was worked out from.
    remembered[key] = found
    return found


async def _kept(
    reads: ReadContext, principal: Principal, model_version: str, digests: Mapping[uuid.UUID, str]
) -> dict[uuid.UUID, Standing]:
    """The kept standings of these organisations whose digest is the one worked out now."""
    one = {"model_version": model_version}
    if principal.organisation_id is None:
        rows = await fetch(reads, queries.STORED, one)
    else:
        rows = await fetch(
            reads, queries.STORED_BELOW, one | {"root_id": principal.organisation_id}
        )
    return {
        row["organisation_id"]: figures.from_row(row)
        for row in rows
        if digests.get(row["organisation_id"]) == row["inputs"]
    }


async def _keep(
    reads: ReadContext, model_version: str, worked: Mapping[uuid.UUID, tuple[str, Standing]]
) -> None:
    """Keep what was worked out for the next worker or instance, in a transaction of its own
    on the primary. Derived data: a failure (a database that refuses writes, an organisation
    deleted meanwhile) only means the next one works it out again, so it fails no answer."""
    values = [
        {"model_version": model_version, "organisation_id": m, "inputs": digest}
        | figures.as_row(standing)
        for m, (digest, standing) in worked.items()
    ]
    try:
        async with side_transaction(reads.factory()) as session:
            for start in range(0, len(values), _KEEP_BATCH):
                batch = values[start : start + _KEEP_BATCH]
                await session.exec(queries.keep_standings(session, batch))
    except SQLAlchemyError:
        logger.warning("national standings not kept", exc_info=True)


def _inputs(
    forest: loading.System, organisation_id: uuid.UUID, shared: Mapping[uuid.UUID, Hashable]
) -> Hashable:
    """What an organisation's standing depends on besides the model: its kind, its records
    revision, and what those above it share with it (their other records change nothing of
    it: a change to an ICB's own asset works out the ICB again, not its 300 members)."""
    above = forest.ancestors(organisation_id)
    inherited = tuple((m, shared[m]) for m in above if m in shared)
    return forest.types[organisation_id], forest.revisions[organisation_id], inherited


async def _shared(session: AsyncSession) -> dict[uuid.UUID, Hashable]:
    """Per organisation that shares any, what it shares (one grouped read of shared assets)."""
    found: dict[uuid.UUID, list[tuple[Any, ...]]] = {}
    for row in await fetch_in_transaction(session, queries.shared_claims()):
        found.setdefault(row[0], []).append(tuple(row[1:]))
    return {m: tuple(sorted(rows, key=repr)) for m, rows in found.items()}


def _with_ancestors(forest: loading.System, organisations: Sequence[uuid.UUID]) -> loading.System:
    """The part of the forest to read records of: these organisations and those above them."""
    wanted = set(organisations)
    for organisation in organisations:
        wanted.update(forest.ancestors(organisation))
    return loading.System(
        forest.root_id,
        forest.names,
        {m: forest.parents[m] for m in wanted},
        forest.types,
        forest.revisions,
    )


async def _forest(reads: ReadContext, principal: Principal) -> Rows:
    if principal.organisation_id is None:
        return await fetch(reads, queries.EVERYWHERE, {})
    return await fetch(reads, queries.BELOW, {"root_id": principal.organisation_id})


async def _model(
    reads: ReadContext, principal: Principal, version: str | None
) -> tuple[ReferenceModelPublic, int]:
    """The model asked for (by default the default one); a scoped caller may name its own
    organisation's variant, as in its analyses."""
    owners: list[uuid.UUID] = []
    if principal.organisation_id is not None and version is not None:
        owners = await hierarchy.ancestor_ids(reads, principal.organisation_id, include_self=True)
    return await reference_service.chosen(reads, version, owners=owners)


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
    session: AsyncSession, organisations: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Recorded]:
    """Per organisation: its assets and activities counted, and when one of them last
    changed (two grouped reads, whatever the number of organisations)."""
    counts: dict[str, dict[uuid.UUID, tuple[int, Any]]] = {}
    for name, table in (("assets", Asset), ("activities", Activity)):
        statement = queries.record_counts(table)
        statement = statement.where(col(table.organisation_id).in_(organisations))
        rows = await fetch_in_transaction(session, statement)
        counts[name] = {owner: (int(total), latest) for owner, total, latest in rows}
    found = {}
    for organisation in organisations:
        assets, assets_changed = counts["assets"].get(organisation, (0, None))
        activities, activities_changed = counts["activities"].get(organisation, (0, None))
        stamps = [stamp for stamp in (assets_changed, activities_changed) if stamp is not None]
        found[organisation] = Recorded(assets, activities, max(stamps, default=None))
    return found
