"""Gap-analysis use cases: one organisation, or the system below it.

Each reads everything it needs from one snapshot in a short read-only transaction, closes it,
then computes: no connection sits idle in a transaction while the engine works.
"""

import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime

import anyio
from sqlmodel.ext.asyncio.session import AsyncSession

from app.analysis import engine, loading, peers
from app.analysis.metrics import timed
from app.analysis.profile import Profile
from app.analysis.schemas import GapAnalysis, SystemGapAnalysis
from app.auth import access
from app.auth.principal import Principal
from app.db import Sessions, read_snapshot, utcnow
from app.errors import FieldIssue, ValidationFailed
from app.models import Organisation
from app.reference import service as reference_service
from app.reference.schemas import ReferenceModelPublic
from app.vocabulary import Scope


@dataclass(frozen=True)
class ModelChoice:
    """The model an analysis used, its row version when it was read, and the top of the part
    of the tree the analysis saw (what a reader of a stored copy must be allowed to see)."""

    model: ReferenceModelPublic
    row_version: int
    seen_from: uuid.UUID


async def _visible_system(
    session: AsyncSession, principal: Principal, organisation: Organisation
) -> loading.System:
    """The organisation's system as the caller may see it: from its top-most ancestor, or
    from the caller's own scope when that lies lower. Peers, shared assets and their evidence
    above the caller's scope are not there for it, so no analysis leaks them."""
    top = access.root_for(principal, await loading.root_of(session, organisation))
    return await loading.system_of(session, top)


async def _organisation_inputs(
    session: AsyncSession, principal: Principal, organisation_id: uuid.UUID
) -> tuple[Profile, loading.System]:
    organisation = await access.organisation(session, principal, organisation_id)
    system = await _visible_system(session, principal, organisation)
    return await loading.own_profile(session, organisation, system), system


@dataclass(frozen=True)
class _SystemInputs:
    system: loading.System
    below: Sequence[uuid.UUID]
    state: Hashable
    claims: peers.SystemClaims | peers.AggregatedRows


async def _system_inputs(
    session: AsyncSession, principal: Principal, organisation_id: uuid.UUID
) -> _SystemInputs:
    organisation = await access.organisation(session, principal, organisation_id)
    # The system is this organisation's subtree; shared assets from above it still count.
    system = await _visible_system(session, principal, organisation)
    below = loading.subtree(system, organisation_id)
    if not below:
        raise ValidationFailed(
            f"{organisation.name} has no members, so there is no system to roll up.",
            errors=[FieldIssue("scope", "Use scope=organisation for an organisation alone.")],
        )
    state = await peers.state_of(session, system)
    return _SystemInputs(system, below, state, await peers.system_claims(session, system, state))


async def analyse(
    sessions: Sessions,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    scope: Scope,
    model_version: str | None = None,
    now: datetime | None = None,
) -> tuple[GapAnalysis | SystemGapAnalysis, ModelChoice]:
    """Read in one snapshot, release it, then compute."""
    with timed(scope):
        async with read_snapshot(sessions) as session:
            if scope == Scope.SYSTEM:
                inputs = await _system_inputs(session, principal, organisation_id)
                seen_from = inputs.system.root_id
            else:
                profile, system = await _organisation_inputs(session, principal, organisation_id)
                seen_from = system.root_id
            model, row_version = await reference_service.chosen(
                session, model_version, organisation_id=organisation_id
            )
            if scope != Scope.SYSTEM:
                model_key = (model.version, row_version)
                found = await peers.others_of(session, system, organisation_id, model_key)
        choice = ModelChoice(model, row_version, seen_from)
        generated_at = now or utcnow()
        if scope == Scope.SYSTEM:
            claims = await peers.claims_from(inputs.claims, inputs.state)

            def roll_up() -> SystemGapAnalysis:
                members = loading.peer_profiles(
                    inputs.system, claims.own, claims.shared, inputs.below
                )
                root = inputs.system.ref(organisation_id)
                return engine.analyse_system(root, members, model, generated_at=generated_at)

            # A roll-up of hundreds of members is CPU work: run it off the event loop, on purpose.
            return await anyio.to_thread.run_sync(roll_up), choice
        met = await peers.who_meets_what(found, model)
        return engine.analyse(profile, model, generated_at=generated_at, peers=met), choice
