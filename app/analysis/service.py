"""Gap-analysis use cases: one organisation, or the system below it.

Each reads everything it needs from one snapshot in a short read-only transaction, closes it,
then computes: no connection sits idle in a transaction while the engine works.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import anyio
from sqlmodel.ext.asyncio.session import AsyncSession

from app.analysis import engine, loading
from app.analysis.metrics import timed
from app.analysis.profile import Profile
from app.analysis.schemas import GapAnalysis, OrganisationRef, SystemGapAnalysis
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
) -> tuple[Profile, list[Profile], uuid.UUID]:
    organisation = await access.organisation(session, principal, organisation_id)
    system = await _visible_system(session, principal, organisation)
    profile = await loading.own_profile(session, organisation, system)
    others = [m for m in system.parents if m != organisation_id]
    peers: list[Profile] = []
    if others:  # an organisation on its own has no one to spread from
        own, shared = await loading.aggregated_claims(session, system)
        peers = loading.peer_profiles(system, own, shared, others)
    return profile, peers, system.root_id


async def _system_inputs(
    session: AsyncSession, principal: Principal, organisation_id: uuid.UUID
) -> tuple[OrganisationRef, list[Profile], uuid.UUID]:
    organisation = await access.organisation(session, principal, organisation_id)
    # The system is this organisation's subtree; shared assets from above it still count.
    system = await _visible_system(session, principal, organisation)
    below = loading.subtree(system, organisation_id)
    if not below:
        raise ValidationFailed(
            f"{organisation.name} has no members, so there is no system to roll up.",
            errors=[FieldIssue("scope", "Use scope=organisation for an organisation alone.")],
        )
    own, shared = await loading.aggregated_claims(session, system)
    members = loading.peer_profiles(system, own, shared, below)
    return system.ref(organisation_id), members, system.root_id


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
                root, members, seen_from = await _system_inputs(session, principal, organisation_id)
            else:
                profile, peers, seen_from = await _organisation_inputs(
                    session, principal, organisation_id
                )
            model, row_version = await reference_service.chosen(
                session, model_version, organisation_id=organisation_id
            )
        choice = ModelChoice(model, row_version, seen_from)
        generated_at = now or utcnow()
        if scope == Scope.SYSTEM:
            # A roll-up of hundreds of members is CPU work: run it off the event loop, on purpose.
            system = await anyio.to_thread.run_sync(
                partial(engine.analyse_system, root, members, model, generated_at=generated_at)
            )
            return system, choice
        met = [(p.organisation, engine.met_keys(p, model)) for p in peers]
        return engine.analyse(profile, model, generated_at=generated_at, peers=met), choice
