"""Taking the benchmark snapshot: every organisation's scores, read in one consistent
snapshot (a refresh never sees half a change), computed off the event loop, then written in
one transaction that only one instance wins."""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio

from app.analysis import loading, peers
from app.analysis.credit import in_scope, states
from app.analysis.profile import Profile
from app.analysis.scoring import share
from app.benchmarks import queries
from app.db import Sessions, reads_in, side_transaction, utcnow
from app.reference import service as reference_service
from app.reference.schemas import ReferenceModelPublic
from app.vocabulary import Area

log = logging.getLogger("app.benchmarks")

OVERALL = "overall"


def area_figure(area: Area) -> str:
    return f"area:{area.value}"


def capability_figure(key: str) -> str:
    return f"capability:{key}"


@dataclass(frozen=True)
class Refreshed:
    taken_at: datetime
    reference_model: str
    organisations: int
    entries: int


def figures(profile: Profile, model: ReferenceModelPublic) -> dict[str, float]:
    """An organisation's figures: the overall and area scores (0-100) as the gap analysis's
    system view scores a member, and the current maturity (0-4) of each capability that
    applies to its type. An area with nothing that applies has no figure."""
    capabilities = in_scope(model)
    found = states(profile, model)
    values = {OVERALL: share(capabilities, found)}
    for area in Area:
        subset = [c for c in capabilities if c.area == area and found[c.key].applicable]
        if subset:
            values[area_figure(area)] = share(subset, found)
    for c in capabilities:
        if found[c.key].applicable:
            values[capability_figure(c.key)] = float(found[c.key].current)
    return values


@dataclass(frozen=True)
class _Read:
    model: ReferenceModelPublic
    systems: list[tuple[loading.System, peers.AggregatedRows]]
    flags: dict[uuid.UUID, tuple[bool, bool]]


def _rows(read: _Read) -> list[dict[str, Any]]:
    rows = []
    for system, aggregated in read.systems:
        own, shared = peers.claims_of(aggregated)
        for profile in loading.peer_profiles(system, own, shared, system.parents):
            organisation_id = profile.organisation.id
            is_demo, opted_out = read.flags.get(organisation_id, (False, False))
            for name, value in figures(profile, read.model).items():
                rows.append(
                    {
                        "organisation_id": organisation_id,
                        "figure": name,
                        "system_id": system.root_id,
                        "organisation_type": system.types[organisation_id],
                        "is_demo": is_demo,
                        "opted_out": opted_out,
                        "value": value,
                    }
                )
    return rows


async def refresh(
    sessions: Sessions, *, every: timedelta, force: bool = False, now: datetime | None = None
) -> Refreshed | None:
    """Take a new snapshot if the last is older than ``every`` (or ``force``): None when it
    is fresh, or when another instance took it meanwhile."""
    moment = now or utcnow()
    async with sessions.reads.snapshot() as session:
        # When the last one was taken, read with what it is compared to: a new snapshot is
        # written only if no other took one since this read.
        seen, _ = await queries.taken(session)
        if not force and seen is not None and moment - seen < every:
            return None
        reads = reads_in(session)
        model, _ = await reference_service.chosen(reads, None, owners=[])
        systems = []
        for root in await queries.roots(session):
            system = await loading.system_of(reads, root)
            systems.append((system, await peers.aggregated_rows(session, system)))
        read = _Read(model, systems, await queries.flags(session))
    # Hundreds of organisations' states are CPU work: off the event loop, on purpose.
    rows = await anyio.to_thread.run_sync(_rows, read)
    async with side_transaction(sessions) as session:
        if not await queries.claim(
            session, seen=seen, now=moment, model=model.version, force=force
        ):
            log.info("benchmark snapshot taken by another instance meanwhile")
            return None
        await queries.replace(session, rows)
    organisations = len({row["organisation_id"] for row in rows})
    log.info("benchmark snapshot taken: %d organisations, %d figures", organisations, len(rows))
    return Refreshed(moment, model.version, organisations, len(rows))
