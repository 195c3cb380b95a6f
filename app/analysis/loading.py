"""Load what the engine needs in a fixed number of queries, whatever the number of records.

The organisation's own records are read in full (they are explained in the output); the rest
of its system is read as aggregates (one row per organisation and capability), which is all the
engine needs to tell who meets what.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.analysis.profile import Claim, Profile
from app.analysis.schemas import OrganisationRef
from app.analysis.scoring import ACTIVITY_MATURITY
from app.db import fetch_rows
from app.models import Activity, Assessment, Asset, Organisation
from app.organisations import hierarchy
from app.vocabulary import ActivityStatus, ActivityType, Area, CapabilityKind, Confidence


@dataclass(frozen=True)
class System:
    """The tree an organisation belongs to, from its top-most ancestor down."""

    root_id: uuid.UUID
    names: dict[uuid.UUID, str]
    parents: dict[uuid.UUID, uuid.UUID | None]

    def ref(self, organisation_id: uuid.UUID) -> OrganisationRef:
        return OrganisationRef(id=organisation_id, name=self.names[organisation_id])

    def ancestors(self, organisation_id: uuid.UUID) -> list[uuid.UUID]:
        chain, parent = [], self.parents.get(organisation_id)
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = self.parents.get(parent)
        return chain


async def system_of(session: AsyncSession, root_id: uuid.UUID) -> System:
    tree = hierarchy.descendants(root_id)
    rows = await fetch_rows(
        session,
        sa_select(tree.c.id, tree.c.parent_id, col(Organisation.name)).join(
            Organisation, col(Organisation.id) == tree.c.id
        ),
    )
    return System(
        root_id,
        {row_id: name for row_id, _, name in rows},
        {row_id: parent for row_id, parent, _ in rows},
    )


async def aggregated_claims(
    session: AsyncSession, system: System, minimum: Confidence
) -> tuple[dict[uuid.UUID, list[Claim]], dict[uuid.UUID, list[Claim]]]:
    """Per organisation of the system: its best credited claim per capability, and the best it
    shares with its members. Credited in SQL (see scoring.credited), so one row per organisation
    and capability comes back, whatever the number of assets; such claims carry no confidence."""
    # The ids are already known: a plain IN list is much cheaper than re-walking the tree.
    organisation_ids = list(system.parents)
    trusted = [c.value for c in Confidence if c.rank >= minimum.rank]
    credited = case(
        (col(Asset.confidence).in_(trusted), col(Asset.maturity)),
        else_=case((col(Asset.maturity) > 0, col(Asset.maturity) - 1), else_=0),
    )
    shared_only = case((col(Asset.shared_with_members), credited), else_=None)
    own: dict[uuid.UUID, list[Claim]] = defaultdict(list)
    shared: dict[uuid.UUID, list[Claim]] = defaultdict(list)
    assets = await fetch_rows(
        session,
        sa_select(
            col(Asset.organisation_id),
            col(Asset.capability_key),
            func.max(credited),
            func.max(shared_only),
        )
        .where(
            col(Asset.organisation_id).in_(organisation_ids),
            col(Asset.capability_key).is_not(None),
        )
        .group_by(col(Asset.organisation_id), col(Asset.capability_key)),
    )
    for organisation_id, key, best, best_shared in assets:
        own[organisation_id].append(
            Claim(key, int(best), None, CapabilityKind.ASSET, organisation_id)
        )
        if best_shared is not None:
            shared[organisation_id].append(
                Claim(key, int(best_shared), None, CapabilityKind.ASSET, organisation_id)
            )
    by_status = case(
        *((col(Activity.status) == s.value, m) for s, m in ACTIVITY_MATURITY.items()),
        else_=0,
    )
    activities = await fetch_rows(
        session,
        sa_select(col(Activity.organisation_id), col(Activity.capability_key), func.max(by_status))
        .where(
            col(Activity.organisation_id).in_(organisation_ids),
            col(Activity.capability_key).is_not(None),
        )
        .group_by(col(Activity.organisation_id), col(Activity.capability_key)),
    )
    for organisation_id, key, maturity in activities:
        own[organisation_id].append(
            Claim(key, int(maturity), None, CapabilityKind.ACTIVITY, organisation_id)
        )
    return own, shared


def inherited_claims(
    system: System, organisation_id: uuid.UUID, shared: dict[uuid.UUID, list[Claim]]
) -> list[Claim]:
    return [
        replace(claim, inherited=True)
        for ancestor in system.ancestors(organisation_id)
        for claim in shared.get(ancestor, [])
    ]


async def own_profile(session: AsyncSession, organisation: Organisation, system: System) -> Profile:
    """The organisation's records in full, with the shared assets of those above it."""
    ancestors = system.ancestors(organisation.id)
    asset_rows = await fetch_rows(
        session,
        sa_select(
            col(Asset.id),
            col(Asset.organisation_id),
            col(Asset.area),
            col(Asset.capability_key),
            col(Asset.name),
            col(Asset.maturity),
            col(Asset.confidence),
        ).where(
            (col(Asset.organisation_id) == organisation.id)
            | (col(Asset.organisation_id).in_(ancestors) & col(Asset.shared_with_members))
        ),
    )
    activity_rows = await fetch_rows(
        session,
        sa_select(
            col(Activity.id),
            col(Activity.area),
            col(Activity.capability_key),
            col(Activity.title),
            col(Activity.activity_type),
            col(Activity.status),
            col(Activity.goal),
        ).where(col(Activity.organisation_id) == organisation.id),
    )
    assessments = await session.exec(
        select(func.count()).where(Assessment.organisation_id == organisation.id)
    )
    claims: list[Claim] = []
    areas: set[Area] = set()
    unlinked = planned = goals = communities = 0
    types: set[ActivityType] = set()
    for asset_id, owner, area, key, name, maturity, confidence in asset_rows:
        inherited = owner != organisation.id
        if not inherited:
            areas.add(Area(area))
            unlinked += key is None
            planned += maturity == 1
        if key is not None:
            claims.append(
                Claim(
                    key,
                    maturity,
                    Confidence(confidence),
                    CapabilityKind.ASSET,
                    owner,
                    asset_id,
                    name,
                    inherited,
                )
            )
    for activity_id, area, key, title, activity_type, status, goal in activity_rows:
        state = ActivityStatus(status)
        areas.add(Area(area))
        unlinked += key is None
        if state != ActivityStatus.STOPPED:
            types.add(ActivityType(activity_type))
        if goal and state in (ActivityStatus.PLANNED, ActivityStatus.ACTIVE):
            goals += 1
        if activity_type == ActivityType.LEARNING_COMMUNITY and state == ActivityStatus.ACTIVE:
            communities += 1
        if key is not None:
            maturity = ACTIVITY_MATURITY[state]
            claims.append(
                Claim(
                    key,
                    maturity,
                    None,
                    CapabilityKind.ACTIVITY,
                    organisation.id,
                    activity_id,
                    title,
                )
            )
    return Profile(
        organisation=OrganisationRef(id=organisation.id, name=organisation.name),
        claims=tuple(claims),
        areas_recorded=frozenset(areas),
        unlinked_records=unlinked,
        planned_assets=planned,
        goals_in_progress=goals,
        activity_types=frozenset(types),
        running_learning_communities=communities,
        assessments=assessments.one(),
    )


def peer_profiles(
    system: System,
    own: dict[uuid.UUID, list[Claim]],
    shared: dict[uuid.UUID, list[Claim]],
    members: Iterable[uuid.UUID],
) -> list[Profile]:
    return [
        Profile(
            organisation=system.ref(member),
            claims=tuple(own.get(member, []) + inherited_claims(system, member, shared)),
        )
        for member in sorted(members, key=lambda m: (system.names[m], str(m)))
    ]


async def root_of(session: AsyncSession, organisation: Organisation) -> uuid.UUID:
    if organisation.parent_id is None:
        return organisation.id
    return (await hierarchy.ancestor_ids(session, organisation.id, include_self=True))[-1]


def subtree(system: System, root_id: uuid.UUID) -> Sequence[uuid.UUID]:
    children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for child, parent in system.parents.items():
        if parent is not None:
            children[parent].append(child)
    found, pending = [], list(children[root_id])
    while pending:
        member = pending.pop()
        found.append(member)
        pending.extend(children[member])
    return found
