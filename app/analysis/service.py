"""Gap-analysis use cases: one organisation, or the system below it."""

import uuid
from datetime import datetime
from functools import partial

import anyio
from sqlmodel.ext.asyncio.session import AsyncSession

from app.analysis import engine, loading
from app.analysis.profile import Profile
from app.analysis.schemas import GapAnalysis, SystemGapAnalysis
from app.db import utcnow
from app.errors import FieldIssue, ValidationFailed
from app.organisations import service as organisations_service
from app.reference import service as reference_service
from app.reference.schemas import ReferenceModelPublic


async def _one_snapshot(session: AsyncSession) -> None:
    """Read the whole analysis from one snapshot. PostgreSQL's default (READ COMMITTED) gives
    each statement its own, so a write landing between two reads could mix states; SQLite's
    read transaction is one snapshot already."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


async def organisation_analysis(
    session: AsyncSession,
    *,
    organisation_id: uuid.UUID,
    model: ReferenceModelPublic | None = None,
    model_version: str | None = None,
    now: datetime | None = None,
) -> GapAnalysis:
    await _one_snapshot(session)
    organisation = await organisations_service.get(session, organisation_id)
    model = model or await reference_service.chosen(
        session, model_version, pointer="referenceModel"
    )
    system = await loading.system_of(session, await loading.root_of(session, organisation))
    profile = await loading.own_profile(session, organisation, system)
    others = [m for m in system.parents if m != organisation_id]
    peers: list[Profile] = []
    if others:  # an organisation on its own has no one to spread from
        own, shared = await loading.aggregated_claims(session, system, model.minimum_confidence)
        peers = loading.peer_profiles(system, own, shared, others)
    return engine.analyse(
        profile,
        model,
        generated_at=now or utcnow(),
        peers=[(p.organisation, engine.met_keys(p, model)) for p in peers],
    )


async def system_analysis(
    session: AsyncSession,
    *,
    organisation_id: uuid.UUID,
    model: ReferenceModelPublic | None = None,
    model_version: str | None = None,
    now: datetime | None = None,
) -> SystemGapAnalysis:
    await _one_snapshot(session)
    organisation = await organisations_service.get(session, organisation_id)
    model = model or await reference_service.chosen(
        session, model_version, pointer="referenceModel"
    )
    # The system is this organisation's subtree; shared assets from above it still count.
    top = await loading.root_of(session, organisation)
    system = await loading.system_of(session, top)
    own, shared = await loading.aggregated_claims(session, system, model.minimum_confidence)
    below = loading.subtree(system, organisation_id)
    if not below:
        raise ValidationFailed(
            f"{organisation.name} has no members, so there is no system to roll up.",
            errors=[FieldIssue("scope", "Use scope=organisation for an organisation alone.")],
        )
    members = loading.peer_profiles(system, own, shared, below)
    # A roll-up of hundreds of members is CPU work: run it off the event loop, on purpose.
    return await anyio.to_thread.run_sync(
        partial(
            engine.analyse_system,
            system.ref(organisation_id),
            members,
            model,
            generated_at=now or utcnow(),
        )
    )
