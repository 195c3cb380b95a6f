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
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy import select as sa_select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.analysis import queries
from app.analysis.credit import ACTIVITY_MATURITY
from app.analysis.profile import Claim, PlannedItem, Profile
from app.analysis.schemas import OrganisationRef
from app.db import ReadContext, Row, fetch, fetch_in_transaction, reads_in
from app.models import PlanItem
from app.vocabulary import (
    ActivityStatus,
    ActivityType,
    Area,
    CapabilityKind,
    Confidence,
    OrganisationType,
    Rag,
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
    # What queries.SYSTEM_FINGERPRINT reads of the same rows (see fingerprint_of), when read
    # by system_of.
    fingerprint: tuple[Any, ...] | None = None

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
        fingerprint_of(
            {
                "organisations": len(rows),
                "revisions": sum(int(row["revision"]) for row in rows),
                "versions": sum(int(row["version"]) for row in rows),
                "created": max((row["created_at"] for row in rows), default=None),
                "updated": max((row["updated_at"] for row in rows), default=None),
            }
        ),
    )


def fingerprint_of(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The system's fingerprint, as queries.SYSTEM_FINGERPRINT reads it or as system_of
    counts it from the rows (sums as integers: PostgreSQL's sum of a bigint is a numeric)."""
    return (
        int(row["organisations"]),
        int(row["revisions"] or 0),
        int(row["versions"] or 0),
        row["created"],
        row["updated"],
    )


async def unchanged(reads: ReadContext, system: System) -> bool:
    """Whether the system's rows are still those ``system`` was read from (one row read, not
    the system's few hundred)."""
    rows = await fetch(reads, queries.SYSTEM_FINGERPRINT, {"root_id": system.root_id})
    return system.fingerprint is not None and fingerprint_of(rows[0]) == system.fingerprint


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
    reads: ReadContext, organisation_id: uuid.UUID, ancestors: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, tuple[int | None, bool]], frozenset[str]]:
    """What submitted self-assessments say of the organisation's profile:
    - the assets they wrote (the organisation's, and shared ones of those above it): for each,
      the version the latest answer that wrote it left it at, and whether that answer was
      moderated (an asset at another version was changed by someone else since: its origin is
      the records);
    - the organisation's capabilities whose latest submitted answer is "not applicable here"."""
    rows: list[Row] = []
    for slots in queries.slotted([organisation_id, *ancestors]):
        rows += await fetch(reads, queries.SUBMITTED_ANSWERS, slots)
    written: dict[uuid.UUID, tuple[int | None, bool]] = {}
    latest: dict[str, bool] = {}
    # Oldest first, so the latest answer is the one kept (a submit without its time, which
    # the column allows, first of all: it cannot be told the latest).
    for row in sorted(rows, key=_submitted):
        if row["record_id"] is not None:
            written[row["record_id"]] = (row["record_version"], bool(row["moderated"]))
        if row["organisation_id"] == organisation_id:
            latest[row["capability_key"]] = bool(row["not_applicable"])
    return written, frozenset(key for key, declared in latest.items() if declared)


def _submitted(row: Row) -> tuple[bool, datetime]:
    at: datetime | None = row["submitted_at"]
    return (at is not None, at or datetime.min.replace(tzinfo=UTC))


async def own_profile(session: AsyncSession, organisation_id: uuid.UUID, system: System) -> Profile:
    """The organisation's records in full, with the shared assets of those above it."""
    # What the transaction holds but has not sent yet is part of its records (a submit's).
    await session.flush()
    reads = reads_in(session)
    ancestors = system.ancestors(organisation_id)
    one = {"organisation_id": organisation_id}
    asset_rows = list(await fetch(reads, queries.OWN_ASSETS, one))
    for slots in queries.slotted(ancestors):
        asset_rows += await fetch(reads, queries.SHARED_ASSETS, slots)
    activity_rows = await fetch(reads, queries.OWN_ACTIVITIES, one)
    written, declared = await self_assessment_answers(reads, organisation_id, ancestors)
    (counted,) = await fetch(reads, queries.ASSESSMENTS, one)
    planned_items = tuple(
        PlannedItem(
            row["id"],
            row["capability_key"],
            row["title"],
            ActivityStatus(row["status"]),
            Rag(row["rag"]),
            row["owner"],
            row["due_date"],
        )
        for row in await fetch(reads, queries.PLAN_ITEMS, one)
    )
    claims: list[Claim] = []
    areas: set[Area] = set()
    unlinked = planned = goals = communities = improvement_goals = 0
    planned_keys: set[str] = set()
    types: set[ActivityType] = set()
    for row in asset_rows:
        asset_id, owner, area, key = (
            row["id"],
            row["organisation_id"],
            row["area"],
            row["capability_key"],
        )
        maturity, version = row["maturity"], row["version"]
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
                    Confidence(row["confidence"]),
                    CapabilityKind.ASSET,
                    owner,
                    asset_id,
                    row["name"],
                    inherited,
                    evidence_links=int(row["links"]),
                    reviewed=bool(row["reviewed"]),
                    questionnaire=written.get(asset_id, (None, False))[0] == version,
                    moderated=written.get(asset_id, (None, False)) == (version, True),
                )
            )
    for row in activity_rows:
        area, key, goal = row["area"], row["capability_key"], row["goal"]
        state = ActivityStatus(row["status"])
        kind = ActivityType(row["activity_type"])
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
                    row["id"],
                    row["title"],
                    evidence_links=int(row["links"]),
                    has_outcome=bool(row["has_outcome"]),
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
        assessments=int(counted["assessments"]),
        improvement_goals=improvement_goals,
        planned_keys=frozenset(planned_keys),
        plan_items=planned_items,
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
