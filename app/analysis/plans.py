"""The action plan read against the analysis: pure, like the engine.

A plan item says what the organisation will do about a capability; it never counts towards
one (only records do). The day the analysis is for (``today``) is an input: whether an item
or the review is overdue depends on it, so a remembered analysis is keyed by it too.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date

from app.analysis.plan_schemas import Plan, PlanItemRef, Review, TopFivePlanned
from app.analysis.profile import PlannedItem, Profile
from app.analysis.schemas import DuplicatedEffort, MemberPlanItem, Strategy, SystemRecommendation
from app.reference.schemas import ReferenceModelPublic
from app.vocabulary import ActivityStatus, is_overdue

TOP = 5
# What counts as planning a capability: a stopped item is no longer a plan.
PLANNING = frozenset({ActivityStatus.PLANNED, ActivityStatus.ACTIVE, ActivityStatus.COMPLETED})


def overdue(item: PlannedItem, today: date) -> bool:
    return is_overdue(item.due_date, item.status, today)


def refs(items: Iterable[PlannedItem], today: date) -> list[PlanItemRef]:
    """The items as the analysis shows them: overdue first, then by due date (none last),
    then title, then id (a stable order whatever order they were read in)."""
    shown = [
        PlanItemRef(
            id=item.id,
            capability_key=item.capability_key,
            title=item.title,
            owner=item.owner,
            due_date=item.due_date,
            status=item.status,
            rag=item.rag,
            overdue=overdue(item, today),
        )
        for item in items
    ]
    return sorted(
        shown,
        key=lambda r: (
            not r.overdue,
            r.due_date is None,
            r.due_date or date.min,
            r.title,
            str(r.id),
        ),
    )


def planned_keys(items: Iterable[PlannedItem | PlanItemRef]) -> set[str]:
    """Capabilities with an item planned, active or completed."""
    return {item.capability_key for item in items if item.status in PLANNING}


def plan(items: Sequence[PlanItemRef], order: Sequence[str], model: ReferenceModelPublic) -> Plan:
    """``order``: the recommendations' capabilities in rank order."""
    planned = planned_keys(items)
    known = {c.key for c in model.capabilities}
    return Plan(
        items=list(items),
        unplanned=[key for key in order[:TOP] if key not in planned],
        overdue=sum(item.overdue for item in items),
        unmapped=[item for item in items if item.capability_key not in known],
    )


def review(next_review_due: date | None, today: date) -> Review:
    return Review(
        next_review_due=next_review_due,
        overdue=next_review_due is not None and next_review_due < today,
    )


def top_five_planned(items: Iterable[PlannedItem], top: Sequence[str]) -> TopFivePlanned:
    """How much of a member's own top five (``top``, in rank order) it has planned."""
    planned = planned_keys(items)
    return TopFivePlanned(planned=sum(key in planned for key in top), of=len(top))


def duplicated_effort(
    recommendations: Sequence[SystemRecommendation], members: Sequence[Profile], today: date
) -> list[DuplicatedEffort]:
    """What the system should build once but two or more members plan each on their own (a
    stopped item is not effort), in the recommendations' order."""
    once = {r.capability_key: r for r in recommendations if r.strategy == Strategy.BUILD_ONCE}
    found: dict[str, list[MemberPlanItem]] = defaultdict(list)
    for member in members:
        for item in refs(member.plan_items, today):
            if item.capability_key in once and item.status in PLANNING:
                found[item.capability_key].append(
                    MemberPlanItem(organisation=member.organisation, plan_item=item)
                )
    duplicated = []
    for key, recommendation in once.items():
        planners: set[uuid.UUID] = {m.organisation.id for m in found[key]}
        if len(planners) >= 2:
            duplicated.append(
                DuplicatedEffort(
                    capability_key=key,
                    title=recommendation.title,
                    members=len(planners),
                    plan_items=found[key],
                )
            )
    return duplicated
