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
from app.analysis.profile import Profile
from app.analysis.schemas import GapAnalysis, OrganisationRef, SystemGapAnalysis
from app.db import Sessions, read_snapshot, utcnow
from app.errors import FieldIssue, ValidationFailed
from app.organisations import service as organisations_service
from app.reference import service as reference_service
from app.reference.schemas import ReferenceModelPublic
from app.vocabulary import Scope


@dataclass(frozen=True)
class ModelChoice:
    """The model an analysis used, and its row version when it was read."""

    model: ReferenceModelPublic
    row_version: int


async def _organisation_inputs(
    session: AsyncSession, organisation_id: uuid.UUID, model: ReferenceModelPublic
) -> tuple[Profile, list[Profile]]:
    organisation = await organisations_service.get(session, organisation_id)
    system = await loading.system_of(session, await loading.root_of(session, organisation))
    profile = await loading.own_profile(session, organisation, system)
    others = [m for m in system.parents if m != organisation_id]
    peers: list[Profile] = []
    if others:  # an organisation on its own has no one to spread from
        own, shared = await loading.aggregated_claims(session, system)
        peers = loading.peer_profiles(system, own, shared, others)
    return profile, peers


async def _system_inputs(
    session: AsyncSession, organisation_id: uuid.UUID, model: ReferenceModelPublic
) -> tuple[OrganisationRef, list[Profile]]:
    organisation = await organisations_service.get(session, organisation_id)
    # The system is this organisation's subtree; shared assets from above it still count.
    system = await loading.system_of(session, await loading.root_of(session, organisation))
    below = loading.subtree(system, organisation_id)
    if not below:
        raise ValidationFailed(
            f"{organisation.name} has no members, so there is no system to roll up.",
            errors=[FieldIssue("scope", "Use scope=organisation for an organisation alone.")],
        )
    own, shared = await loading.aggregated_claims(session, system)
    return system.ref(organisation_id), loading.peer_profiles(system, own, shared, below)


async def analyse(
    sessions: Sessions,
    *,
    organisation_id: uuid.UUID,
    scope: Scope,
    model_version: str | None = None,
    now: datetime | None = None,
) -> tuple[GapAnalysis | SystemGapAnalysis, ModelChoice]:
    """Read in one snapshot, release it, then compute."""
    async with read_snapshot(sessions) as session:
        model, row_version = await reference_service.chosen(session, model_version)
        if scope == Scope.SYSTEM:
            root, members = await _system_inputs(session, organisation_id, model)
        else:
            profile, peers = await _organisation_inputs(session, organisation_id, model)
    choice = ModelChoice(model, row_version)
    generated_at = now or utcnow()
    if scope == Scope.SYSTEM:
        # A roll-up of hundreds of members is CPU work: run it off the event loop, on purpose.
        system = await anyio.to_thread.run_sync(
            partial(engine.analyse_system, root, members, model, generated_at=generated_at)
        )
        return system, choice
    met = [(p.organisation, engine.met_keys(p, model)) for p in peers]
    return engine.analyse(profile, model, generated_at=generated_at, peers=met), choice
