"""The analysis's prebuilt statements (see app.db.prebuilt), run by app.db.fetch on either
database, outside a transaction (is an analysis remembered?) or in its read snapshot."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import CTE, String, Uuid, bindparam, func, type_coerce
from sqlalchemy import cast as sa_cast
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import col

from app.db import prebuilt
from app.models import (
    Activity,
    Assessment,
    Asset,
    Organisation,
    OrganisationRecords,
    PlanItem,
    SelfAssessment,
    SelfAssessmentAnswer,
)
from app.vocabulary import SelfAssessmentStatus


def _system_walk() -> CTE:
    """The walk of ``hierarchy.descendants`` carrying the columns the analysis reads, so that
    no join back to ``organisation`` follows it: joined back, the planner hashed every
    organisation in the country (8,000) to keep the few hundred of one system."""
    org = Organisation.__table__.c  # type: ignore[attr-defined]

    def columns(table: Any) -> list[Any]:
        return [
            table.id,
            table.parent_id,
            table.name,
            type_coerce(table.organisation_type, String).label("organisation_type"),
            table.next_review_due,
            table.region,
            table.version,
            table.created_at,
            table.updated_at,
        ]

    root = bindparam("root_id", type_=Uuid)
    walk = sa_select(*columns(org)).where(org.id == root).cte("system", recursive=True)
    child = aliased(Organisation.__table__)  # type: ignore[attr-defined]
    return walk.union(sa_select(*columns(child.c)).where(child.c.parent_id == walk.c.id))


_walk = _system_walk()
# Read by its key, one organisation at a time: the system's few hundred, never the country's.
_revision = (
    sa_select(col(OrganisationRecords.revision))
    .where(col(OrganisationRecords.organisation_id) == _walk.c.id)
    .scalar_subquery()
)

# The system below an organisation: each member's parent, name, kind, the number the
# database bumps whenever its records change, and when it next reviews its map and plan.
# Built once, like the ancestor walk: constructing the recursive CTE cost more than running it.
SYSTEM = prebuilt(
    "analysis.system",
    sa_select(
        _walk.c.id,
        _walk.c.parent_id,
        _walk.c.name,
        _walk.c.organisation_type,
        func.coalesce(_revision, 0).label("revision"),
        _walk.c.next_review_due,
        _walk.c.region,
        _walk.c.version,
        _walk.c.created_at,
        _walk.c.updated_at,
    ),
)

# One row that changes whenever the system's rows may have (as the national views' fingerprint,
# app.national.queries): how many organisations, the sums of their records revisions and of
# their row versions (each only grows: the database bumps a revision on every change to a
# record, app.records.apply a version on every change to the organisation), and their latest
# creation and change times (a deletion and a creation in between would otherwise cancel out
# in the count). An analysis's snapshot reads it instead of the whole system again.
SYSTEM_FINGERPRINT = prebuilt(
    "analysis.system_fingerprint",
    sa_select(
        func.count().label("organisations"),
        # As text: PostgreSQL's sum of integers is a numeric, SQLite's an integer.
        sa_cast(func.coalesce(func.sum(func.coalesce(_revision, 0)), 0), String).label("revisions"),
        sa_cast(func.coalesce(func.sum(_walk.c.version), 0), String).label("versions"),
        func.max(_walk.c.created_at).label("created"),
        func.max(_walk.c.updated_at).label("updated"),
    ),
)


# ---- One organisation's own records, read in the analysis's snapshot ------------------------
# Prebuilt, so the driver runs them (app.db.fetch): built per call and run through SQLAlchemy's
# execution, these five reads cost 4 ms of the 20 of a member's first analysis after a change.
# Each names one organisation, or up to SLOTS of them (those above it: a system is a few
# levels deep, and only the ancestors the caller may see count), the slots left unused null.

_organisation = bindparam("organisation_id", type_=Uuid)
SLOTS = 4
_slots = [bindparam(f"organisation_{n}", type_=Uuid) for n in range(SLOTS)]


def slotted(organisations: Sequence[uuid.UUID]) -> list[dict[str, uuid.UUID | None]]:
    """The parameters of a slotted statement for these organisations: one statement per
    SLOTS of them, unused slots null (matching nothing)."""
    found = []
    for start in range(0, len(organisations), SLOTS):
        chunk = list(organisations[start : start + SLOTS])
        padded = chunk + [None] * (SLOTS - len(chunk))
        found.append({f"organisation_{n}": value for n, value in enumerate(padded)})
    return found


def _asset_rows(*where: Any) -> Any:
    asset = Asset.__table__.c  # type: ignore[attr-defined]
    return sa_select(
        asset.id,
        asset.organisation_id,
        type_coerce(asset.area, String).label("area"),
        asset.capability_key,
        asset.name,
        asset.maturity,
        type_coerce(asset.confidence, String).label("confidence"),
        func.coalesce(func.json_array_length(asset.evidence), 0).label("links"),
        asset.reviewed_by.is_not(None).label("reviewed"),
        asset.version,
    ).where(*where)


_asset = Asset.__table__.c  # type: ignore[attr-defined]
OWN_ASSETS = prebuilt("analysis.own_assets", _asset_rows(_asset.organisation_id == _organisation))
SHARED_ASSETS = prebuilt(
    "analysis.shared_assets",
    _asset_rows(_asset.organisation_id.in_(_slots), _asset.shared_with_members.is_(True)),
)

_activity = Activity.__table__.c  # type: ignore[attr-defined]
OWN_ACTIVITIES = prebuilt(
    "analysis.own_activities",
    sa_select(
        _activity.id,
        type_coerce(_activity.area, String).label("area"),
        _activity.capability_key,
        _activity.title,
        type_coerce(_activity.activity_type, String).label("activity_type"),
        type_coerce(_activity.status, String).label("status"),
        _activity.goal,
        _activity.outcome.is_not(None).label("has_outcome"),
        func.coalesce(func.json_array_length(_activity.evidence), 0).label("links"),
    ).where(_activity.organisation_id == _organisation),
)

_answer = SelfAssessmentAnswer.__table__.c  # type: ignore[attr-defined]
_assessment = SelfAssessment.__table__.c  # type: ignore[attr-defined]
SUBMITTED_ANSWERS = prebuilt(
    "analysis.submitted_answers",
    sa_select(
        _assessment.organisation_id,
        _answer.capability_key,
        _answer.not_applicable,
        _answer.record_id,
        _answer.record_version,
        _answer.moderation.is_not(None).label("moderated"),
        _assessment.submitted_at,
    )
    .join(SelfAssessment.__table__, _assessment.id == _answer.self_assessment_id)  # type: ignore[attr-defined]
    .where(
        _assessment.organisation_id.in_(_slots),
        type_coerce(_assessment.status, String) == SelfAssessmentStatus.SUBMITTED.value,
    ),
)

ASSESSMENTS = prebuilt(
    "analysis.assessments",
    sa_select(func.count().label("assessments")).where(
        col(Assessment.organisation_id) == _organisation
    ),
)

_plan_item = PlanItem.__table__.c  # type: ignore[attr-defined]
PLAN_ITEMS = prebuilt(
    "analysis.plan_items",
    sa_select(
        _plan_item.id,
        _plan_item.capability_key,
        _plan_item.title,
        type_coerce(_plan_item.status, String).label("status"),
        type_coerce(_plan_item.rag, String).label("rag"),
        _plan_item.owner,
        _plan_item.due_date,
    ).where(_plan_item.organisation_id == _organisation),
)
