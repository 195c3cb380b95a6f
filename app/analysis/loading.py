"""Load what the engine needs in a fixed number of queries, whatever the number of records.

The organisation's own records are read in full (they are explained in the output); the rest
of its system is read as aggregates: the best maturity per organisation, capability and every
combination of what the evidence rules look at (confidence, links, reviewer, outcome), a
bounded number of rows whatever the number of assets. Crediting is left to the engine
(credit.py), so one rule serves both.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy import ColumnElement, func
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.analysis import queries
from app.analysis.credit import ACTIVITY_MATURITY
from app.analysis.profile import Claim, PlannedItem, Profile
from app.analysis.schemas import OrganisationRef
from app.db import ReadContext, fetch, fetch_in_transaction
from app.models import Activity, Assessment, Asset, PlanItem, SelfAssessment, SelfAssessmentAnswer
from app.vocabulary import (
    ActivityStatus,
    ActivityType,
    Area,
    CapabilityKind,
    Confidence,
    OrganisationType,
    Rag,
    SelfAssessmentStatus,
)


@dataclass(frozen=True)
class System:
    """The tree an organisation belongs to, from its top-most ancestor down."""

    root_id: uuid.UUID
    names: dict[uuid.UUID, str]
    parents: dict[uuid.UUID, uuid.UUID | None]
    types: dict[uuid.UUID, OrganisationType]
    # Per organisation, the number the database bumps whenever its records change.
    revisions: dict[uuid.UUID, int]
    # Per organisation, when it next reviews its map and plan (an organisation's own field:
    # no records revision counts its changes, so the tree's state names it).
    review_due: dict[uuid.UUID, date | None] = field(default_factory=dict)
    # Per organisation, its region where recorded (the system view groups members by it).
    regions: dict[uuid.UUID, str | None] = field(default_factory=dict)

    def ref(self, organisation_id: uuid.UUID) -> OrganisationRef:
        return OrganisationRef(id=organisation_id, name=self.names[organisation_id])

    def ancestors(self, organisation_id: uuid.UUID) -> list[uuid.UUID]:
        chain, parent = [], self.parents.get(organisation_id)
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = self.parents.get(parent)
        return chain


async def system_of(reads: ReadContext, root_id: uuid.UUID) -> System:
    rows = await fetch(reads, queries.SYSTEM, {"root_id": root_id})
    # The root's own parent is outside this system (above a caller's scope, say): cut there.
    return System(
        root_id,
        {row["id"]: row["name"] for row in rows},
        {row["id"]: None if row["id"] == root_id else row["parent_id"] for row in rows},
        {row["id"]: OrganisationType(row["organisation_type"]) for row in rows},
        {row["id"]: int(row["revision"]) for row in rows},
        {row["id"]: row["next_review_due"] for row in rows},
        {row["id"]: row["region"] for row in rows},
    )


def has_links(column: object) -> ColumnElement[bool]:
    # json_array_length exists on SQLite and PostgreSQL alike.
    return func.coalesce(func.json_array_length(column), 0) > 0


def inherited_claims(
    system: System, organisation_id: uuid.UUID, shared: dict[uuid.UUID, list[Claim]]
) -> list[Claim]:
    return [
        replace(claim, inherited=True)
        for ancestor in system.ancestors(organisation_id)
        for claim in shared.get(ancestor, [])
    ]


async def plan_items(
    session: AsyncSession, organisation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[PlannedItem, ...]]:
    """The plan items of every organisation named, in one query however many there are (in
    the analysis's snapshot, with the records they are read against). Their links to assets
    and activities are not read: the analysis does not look at them."""
    rows = await fetch_in_transaction(
        session,
        sa_select(
            col(PlanItem.organisation_id),
            col(PlanItem.id),
            col(PlanItem.capability_key),
            col(PlanItem.title),
            col(PlanItem.status),
            col(PlanItem.rag),
            col(PlanItem.owner),
            col(PlanItem.due_date),
        ).where(col(PlanItem.organisation_id).in_(organisation_ids)),
    )
    found: dict[uuid.UUID, list[PlannedItem]] = defaultdict(list)
    for organisation_id, item_id, key, title, status, rag, owner, due in rows:
        found[organisation_id].append(
            PlannedItem(item_id, key, title, ActivityStatus(status), Rag(rag), owner, due)
        )
    return {organisation_id: tuple(items) for organisation_id, items in found.items()}


async def self_assessment_answers(
    session: AsyncSession, organisation_id: uuid.UUID, ancestors: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, tuple[int | None, bool]], frozenset[str]]:
    """What submitted self-assessments say of the organisation's profile, in one read:
    - the assets they wrote (the organisation's, and shared ones of those above it): for each,
      the version the latest answer that wrote it left it at, and whether that answer was
      moderated (an asset at another version was changed by someone else since: its origin is
      the records);
    - the organisation's capabilities whose latest submitted answer is "not applicable here"."""
    rows = await fetch_in_transaction(
        session,
        sa_select(
            col(SelfAssessment.organisation_id),
            col(SelfAssessmentAnswer.capability_key),
            col(SelfAssessmentAnswer.not_applicable),
            col(SelfAssessmentAnswer.record_id),
            col(SelfAssessmentAnswer.record_version),
            col(SelfAssessmentAnswer.moderation),
        )
        .join(
            SelfAssessment, col(SelfAssessment.id) == col(SelfAssessmentAnswer.self_assessment_id)
        )
        .where(
            col(SelfAssessment.organisation_id).in_([organisation_id, *ancestors]),
            col(SelfAssessment.status) == SelfAssessmentStatus.SUBMITTED.value,
        )
        # Oldest first, so the latest answer is the one kept.
        .order_by(col(SelfAssessment.submitted_at)),
    )
    written: dict[uuid.UUID, tuple[int | None, bool]] = {}
    latest: dict[str, bool] = {}
    for owner, key, not_applicable, record_id, version, moderation in rows:
        if record_id is not None:
            written[record_id] = (version, moderation is not None)
        if owner == organisation_id:
            latest[key] = bool(not_applicable)
    return written, frozenset(key for key, declared in latest.items() if declared)


async def own_profile(session: AsyncSession, organisation_id: uuid.UUID, system: System) -> Profile:
    """The organisation's records in full, with the shared assets of those above it."""
    ancestors = system.ancestors(organisation_id)
    asset_rows = await fetch_in_transaction(
        session,
        sa_select(
            col(Asset.id),
            col(Asset.organisation_id),
            col(Asset.area),
            col(Asset.capability_key),
            col(Asset.name),
            col(Asset.maturity),
            col(Asset.confidence),
            col(Asset.evidence),
            col(Asset.reviewed_by),
            col(Asset.version),
        ).where(
            (col(Asset.organisation_id) == organisation_id)
            | (col(Asset.organisation_id).in_(ancestors) & col(Asset.shared_with_members))
        ),
    )
    activity_rows = await fetch_in_transaction(
        session,
        sa_select(
            col(Activity.id),
            col(Activity.area),
            col(Activity.capability_key),
            col(Activity.title),
            col(Activity.activity_type),
            col(Activity.status),
            col(Activity.goal),
            col(Activity.outcome),
            col(Activity.evidence),
        ).where(col(Activity.organisation_id) == organisation_id),
    )
    written, declared = await self_assessment_answers(session, organisation_id, ancestors)
    assessments = await session.exec(
        select(func.count()).where(Assessment.organisation_id == organisation_id)
    )
    planned_items = await plan_items(session, [organisation_id])
    claims: list[Claim] = []
    areas: set[Area] = set()
    unlinked = planned = goals = communities = improvement_goals = 0
    planned_keys: set[str] = set()
    types: set[ActivityType] = set()
    for (
        asset_id,
        owner,
        area,
        key,
        name,
        maturity,
        confidence,
        links,
        reviewed,
        version,
    ) in asset_rows:
        inherited = owner != organisation_id
        if not inherited:
            areas.add(Area(area))
            unlinked += key is None
            planned += maturity == 1
            if maturity == 1 and key is not None:
                planned_keys.add(key)
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
                    evidence_links=len(links or []),
                    reviewed=reviewed is not None,
                    questionnaire=written.get(asset_id, (None, False))[0] == version,
                    moderated=written.get(asset_id, (None, False)) == (version, True),
                )
            )
    for activity_id, area, key, title, kind_, status, goal, outcome, links in activity_rows:
        state = ActivityStatus(status)
        kind = ActivityType(kind_)
        areas.add(Area(area))
        unlinked += key is None
        if state != ActivityStatus.STOPPED:
            types.add(kind)
            if goal and kind in (ActivityType.IMPROVEMENT_PROJECT, ActivityType.RESEARCH):
                improvement_goals += 1
        if goal and state in (ActivityStatus.PLANNED, ActivityStatus.ACTIVE):
            goals += 1
        if kind == ActivityType.LEARNING_COMMUNITY and state == ActivityStatus.ACTIVE:
            communities += 1
        if key is not None:
            if state == ActivityStatus.PLANNED:
                planned_keys.add(key)
            claims.append(
                Claim(
                    key,
                    ACTIVITY_MATURITY[state],
                    None,
                    CapabilityKind.ACTIVITY,
                    organisation_id,
                    activity_id,
                    title,
                    evidence_links=len(links or []),
                    has_outcome=outcome is not None,
                )
            )
    return Profile(
        organisation=system.ref(organisation_id),
        claims=tuple(claims),
        organisation_type=system.types[organisation_id],
        areas_recorded=frozenset(areas),
        unlinked_records=unlinked,
        planned_assets=planned,
        goals_in_progress=goals,
        activity_types=frozenset(types),
        running_learning_communities=communities,
        assessments=assessments.one(),
        improvement_goals=improvement_goals,
        planned_keys=frozenset(planned_keys),
        plan_items=planned_items.get(organisation_id, ()),
        next_review_due=system.review_due.get(organisation_id),
        declared_not_applicable=declared,
    )


def peer_profiles(
    system: System,
    own: dict[uuid.UUID, list[Claim]],
    shared: dict[uuid.UUID, list[Claim]],
    members: Iterable[uuid.UUID],
    plans: Mapping[uuid.UUID, tuple[PlannedItem, ...]] | None = None,
) -> list[Profile]:
    """``plans``: the members' plan items, where the system view needs them."""
    return [
        Profile(
            organisation=system.ref(member),
            claims=tuple(own.get(member, []) + inherited_claims(system, member, shared)),
            organisation_type=system.types[member],
            plan_items=(plans or {}).get(member, ()),
            next_review_due=system.review_due.get(member),
            region=system.regions.get(member),
        )
        for member in sorted(members, key=lambda m: (system.names[m], str(m)))
    ]


def children_of(system: System) -> dict[uuid.UUID, list[uuid.UUID]]:
    children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for child, parent in system.parents.items():
        if parent is not None:
            children[parent].append(child)
    return children


def subtree(
    system: System,
    root_id: uuid.UUID,
    children: Mapping[uuid.UUID, list[uuid.UUID]] | None = None,
) -> Sequence[uuid.UUID]:
    """Every organisation below ``root_id``. ``children`` (children_of the system): given
    when walking many subtrees of one system (the national list walks every system's)."""
    if children is None:
        children = children_of(system)
    found, pending = [], list(children.get(root_id, ()))
    while pending:
        member = pending.pop()
        found.append(member)
        pending.extend(children.get(member, ()))
    return found
