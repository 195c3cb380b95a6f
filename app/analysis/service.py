"""Gap-analysis use cases: one organisation, or the system below it.

Each reads everything it needs from one snapshot in a short read-only transaction, closes it,
then computes: no connection sits idle in a transaction while the engine works.
"""

import asyncio
import dataclasses
import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import anyio
from cachetools import LRUCache
from sqlmodel.ext.asyncio.session import AsyncSession

from app import caches
from app.analysis import engine, loading, peers
from app.analysis.answers import AnyAnalysis, Remembered
from app.analysis.metrics import timed
from app.analysis.profile import PlannedItem
from app.analysis.schemas import GapAnalysis, SystemGapAnalysis
from app.auth import access
from app.auth.principal import Principal
from app.auth.scope import lineage_covered
from app.db import ReadContext, reads_in, utcnow
from app.errors import FieldIssue, ValidationFailed
from app.organisations import hierarchy
from app.reference import service as reference_service
from app.reference.schemas import ReferenceModelPublic
from app.returns import credits
from app.returns import service as returns
from app.singleflight import SingleFlight
from app.vocabulary import Scope


@dataclass(frozen=True)
class ModelChoice:
    """The model an analysis used, its row version when it was read, and the top of the part
    of the tree the analysis saw (what a reader of a stored copy must be allowed to see)."""

    model: ReferenceModelPublic
    row_version: int
    seen_from: uuid.UUID


async def _visible_system(
    reads: ReadContext, principal: Principal, lineage: list[uuid.UUID]
) -> loading.System:
    """The organisation's system as the caller may see it: from its top-most ancestor (the
    last of ``lineage``, the organisation and those above it), or from the caller's own scope
    when that lies lower. Peers, shared assets and their evidence above the caller's scope are
    not there for it, so no analysis leaks them."""
    return await loading.system_of(reads, access.root_for(principal, lineage[-1]))


@dataclass(frozen=True)
class _SystemInputs:
    below: Sequence[uuid.UUID]
    claims: peers.SystemClaims | peers.AggregatedRows
    plans: dict[uuid.UUID, tuple[PlannedItem, ...]]


async def _system_inputs(
    session: AsyncSession, organisation_id: uuid.UUID, system: loading.System, state: Hashable
) -> _SystemInputs:
    # The system is this organisation's subtree; shared assets from above it still count.
    below = loading.subtree(system, organisation_id)
    if not below:
        raise ValidationFailed(
            f"{system.names[organisation_id]} has no members, so there is no system to roll up.",
            errors=[FieldIssue("scope", "Use scope=organisation for an organisation alone.")],
        )
    return _SystemInputs(
        below,
        await peers.system_claims(session, system, state),
        await loading.plan_items(session, below),
    )


# Per process: the analyses last given, by everything they were computed from. The engine is
# pure (records, model and day in, analysis out; no clock), and what it reads is named by the
# state of the system as the caller sees it (the tree, each organisation's next review date
# and records revision, which database triggers bump on every change to its assets,
# activities, assessments and plan items), the model's version and row version, and the day
# (a plan item due yesterday is overdue today, on the same records). So a remembered analysis
# is the one the engine would compute again; only ``generatedAt`` is new. A member analysis of a
# 200-member ICS is some 200 KB of objects (the bound is in app.caches).
results_memo: LRUCache[Hashable, Remembered] = caches.lru(caches.ANALYSIS_RESULTS)


@dataclass(frozen=True)
class _Identity:
    """What names an analysis: the organisation's system as the caller sees it, the model."""

    system: loading.System
    model: ReferenceModelPublic
    row_version: int
    state: Hashable
    key: Hashable
    # The organisation and those above it, nearest first (what the caller's scope was
    # checked against, and what the model's owners are chosen from).
    lineage: list[uuid.UUID]


async def _identify(
    reads: ReadContext,
    identity: str,
    principal: Principal,
    organisation_id: uuid.UUID,
    scope: Scope,
    model_version: str | None,
    today: date,
) -> _Identity:
    # The walk up from the organisation says whether it exists and whether the caller's scope
    # covers it (as access.organisation would, without reading the organisation again).
    lineage = await hierarchy.ancestor_ids(reads, organisation_id, include_self=True)
    if not lineage or not lineage_covered(principal, lineage):
        raise access.no_such_organisation(organisation_id)
    if reads.session is None:
        # Outside a transaction each read has a pooled connection of its own: the system and
        # the model, which both need only the lineage, are read side by side.
        seen = asyncio.ensure_future(_visible_system(reads, principal, lineage))
        chosen = asyncio.ensure_future(
            reference_service.chosen(reads, model_version, owners=lineage)
        )
        try:
            system, (model, row_version) = await asyncio.gather(seen, chosen)
        except BaseException:
            # The first failure is the answer (an unknown model's 422); the other read stops.
            seen.cancel()
            chosen.cancel()
            raise
    else:
        system = await _visible_system(reads, principal, lineage)
        model, row_version = await reference_service.chosen(reads, model_version, owners=lineage)
    state = peers.state_of(identity, system)
    key = (scope, organisation_id, state, (model.version, row_version), today)
    return _Identity(system, model, row_version, state, key, lineage)


async def _identify_again(
    reads: ReadContext,
    identity: str,
    principal: Principal,
    found: _Identity,
    scope: Scope,
    model_version: str | None,
) -> _Identity:
    """The identity of what a snapshot holds, from what was read outside it: when the
    system's fingerprint says nothing changed since, the identity read outside (its records
    are read in the snapshot, and its state, which names them, is the snapshot's). Otherwise
    the organisation is identified again in the snapshot, as a whole: a move in between may
    have taken it out of the system read outside (or out of the caller's scope), so its
    lineage, the scope check, the system and the model are all the snapshot's."""
    if await loading.unchanged(reads, found.system):
        return found
    _, organisation_id, _, _, today = cast(tuple[Any, ...], found.key)
    return await _identify(reads, identity, principal, organisation_id, scope, model_version, today)


async def analyse(
    reads: ReadContext,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    scope: Scope,
    model_version: str | None = None,
    now: datetime | None = None,
) -> tuple[AnyAnalysis, ModelChoice]:
    """The analysis of an organisation (or of the system below it), and the model it used."""
    generated_at = now or utcnow()
    remembered, choice = await analysed(
        reads,
        principal=principal,
        organisation_id=organisation_id,
        scope=scope,
        model_version=model_version,
        today=generated_at.date(),
    )
    return remembered.at(generated_at), choice


async def analyse_with_own_records(
    session: AsyncSession,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    model_version: str,
) -> tuple[GapAnalysis, ModelChoice]:
    """An organisation's analysis with its own records as this open transaction holds them
    (a self-assessment's submit stores the analysis of the records it is writing, all or
    nothing), and everything else (its system, its peers) from a committed snapshot, which the
    transaction does not change. Never remembered: what an uncommitted transaction saw must
    serve nobody else."""
    generated_at = utcnow()
    today = generated_at.date()
    reads = reads_in(session)
    async with reads.snapshot() as beside:
        found = await _identify(
            reads_in(beside),
            reads.factory().identity,
            principal,
            organisation_id,
            Scope.ORGANISATION,
            model_version,
            today,
        )
        others = await peers.others_of(
            beside,
            found.system,
            organisation_id,
            found.state,
            (found.model.version, found.row_version),
        )
    profile = await loading.own_profile(session, organisation_id, found.system)
    met = await peers.who_meets_what(others, found.model)
    result = engine.analyse(
        profile,
        found.model,
        generated_at=generated_at,
        peers=met,
        peer_types=found.system.types,
        today=today,
    )
    return result, ModelChoice(found.model, found.row_version, found.system.root_id)


async def analysed(
    reads: ReadContext,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    scope: Scope,
    model_version: str | None = None,
    today: date | None = None,
) -> tuple[Remembered, ModelChoice]:
    """Reuse what was computed from the same records, model and day (by default today's), or
    read in one snapshot, release it, then compute.

    Whether it is remembered is asked outside any transaction and session (three prebuilt
    statements, each seeing its own snapshot): a remembered analysis was computed from one
    consistent snapshot whose state the key names, so it is right whatever moments the key
    was read at, and the most common answer holds no transaction at all. Only what must be
    computed reads in a snapshot, where everything is read again."""
    # One day for the key and the computation, so an analysis asked for at midnight is
    # remembered under the day it was computed for.
    today = today or utcnow().date()
    with timed(scope):
        found = await _identify(
            reads, reads.factory().identity, principal, organisation_id, scope, model_version, today
        )
        remembered = caches.hit(results_memo, found.key)
        if remembered is None:
            outside = found
            remembered, found = await _computing.do(
                found.key,
                lambda: _compute(
                    reads, principal, organisation_id, scope, outside, model_version, today
                ),
            )
        return remembered, ModelChoice(found.model, found.row_version, found.system.root_id)


# Callers that need the same analysis meanwhile wait for the one working it out instead of
# each reading the system in a snapshot of its own (a cold start under a flood held a
# transaction per admitted request).
_computing: SingleFlight[tuple[Remembered, "_Identity"]] = SingleFlight()


async def _compute(
    reads: ReadContext,
    principal: Principal,
    organisation_id: uuid.UUID,
    scope: Scope,
    outside: _Identity,
    model_version: str | None,
    today: date,
) -> tuple[Remembered, _Identity]:
    # The time it was computed; each caller's copy carries its own.
    generated_at = utcnow()
    async with reads.snapshot() as session:
        found = await _identify_again(
            reads_in(session), reads.factory().identity, principal, outside, scope, model_version
        )
        system, model, state = found.system, found.model, found.state
        if scope == Scope.SYSTEM:
            inputs = await _system_inputs(session, organisation_id, system, state)
        else:
            profile = await loading.own_profile(session, organisation_id, system)
            # Imported returns, credited through the model's crosswalk where no record is.
            returned, seen = credits.claims(
                await returns.stored(session, organisation_id), model, organisation_id
            )
            profile = dataclasses.replace(profile, returned=returned, returns=seen)
            others = await peers.others_of(
                session, system, organisation_id, state, (model.version, found.row_version)
            )
    result: AnyAnalysis
    if scope == Scope.SYSTEM:
        claims = await peers.claims_from(inputs.claims, state)

        def roll_up() -> SystemGapAnalysis:
            members = loading.peer_profiles(
                system, claims.own, claims.shared, inputs.below, inputs.plans
            )
            root = system.ref(organisation_id)
            # The system's own organisation (an ICB) may host what is built once.
            (own,) = loading.peer_profiles(system, claims.own, claims.shared, [organisation_id])
            return engine.analyse_system(
                root, members, model, generated_at=generated_at, root_profile=own, today=today
            )

        # A roll-up of hundreds of members is CPU work: run it off the event loop, on purpose.
        result = await anyio.to_thread.run_sync(roll_up)
    else:
        met = await peers.who_meets_what(others, model)
        result = engine.analyse(
            profile,
            model,
            generated_at=generated_at,
            peers=met,
            peer_types=system.types,
            today=today,
        )
    remembered = Remembered(result)
    results_memo[found.key] = remembered
    return remembered, found
