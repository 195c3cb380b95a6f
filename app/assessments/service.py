"""Assessment use cases: snapshot the current analysis, list, read, compare."""

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.analysis import service as analysis_service
from app.analysis.schemas import GapAnalysis, SystemGapAnalysis
from app.analysis.service import ModelChoice
from app.assessments.compare import compare as compare_analyses
from app.assessments.compare import compare_systems
from app.assessments.schemas import (
    AssessmentComparison,
    AssessmentCreate,
    AssessmentRef,
    SystemAssessmentComparison,
)
from app.audit import service as audit
from app.auth import access
from app.auth.principal import Principal
from app.db import reads_in, sessions_of
from app.errors import Conflict, FieldIssue, NotFound, ValidationFailed
from app.models import Assessment, ReferenceModel
from app.pagination import PageParams, keyset
from app.vocabulary import AuditAction, ResourceType, Role, Scope


async def create(
    session: AsyncSession,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    data: AssessmentCreate,
) -> Assessment:
    """Analyse from one read snapshot (no write lock held meanwhile), then write the result in
    a short transaction that pins the model version it used."""
    # Checked and analysed beside the unit of work, not in it: the write session would take
    # SQLite's write lock now and hold it through the analysis.
    beside = sessions_of(session).reads
    await access.organisation(beside, principal, organisation_id, need=Role.EDITOR)
    analysis, choice = await analysis_service.analyse(
        beside,
        principal=principal,
        organisation_id=organisation_id,
        scope=data.scope,
        model_version=data.reference_model,
    )
    return await store(
        session,
        principal=principal,
        organisation_id=organisation_id,
        analysis=analysis,
        choice=choice,
        scope=data.scope,
        label=data.label,
    )


async def store(
    session: AsyncSession,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    analysis: GapAnalysis | SystemGapAnalysis,
    choice: ModelChoice,
    scope: Scope,
    label: str | None,
) -> Assessment:
    """Store an analysis as an assessment pinned to its model version, audited (a create, and
    a self-assessment's submit, store theirs here)."""
    # FOR SHARE on the model row: a concurrent PUT of the same version waits for this insert,
    # and a PUT that landed while we analysed is caught by its row version.
    row = (
        await session.exec(
            select(ReferenceModel)
            .where(ReferenceModel.version == choice.model.version)
            .with_for_update(read=True)
        )
    ).first()
    if row is None or row.row_version != choice.row_version:
        raise Conflict(
            f"Reference model {choice.model.version} changed while the analysis ran; retry.",
            headers={"Retry-After": "1"},
        )
    assessment = Assessment(
        id=uuid.uuid4(),
        organisation_id=organisation_id,
        reference_model_version=choice.model.version,
        scope=scope,
        overall_score=analysis.summary.overall_score,
        label=label,
        result=analysis.model_dump(mode="json", by_alias=True),
        seen_from=choice.seen_from,
        created_at=analysis.generated_at,
    )
    session.add(assessment)
    await session.flush()
    summary = ref(assessment).model_dump(exclude={"id"}) | {"scope": assessment.scope}
    audit.record(
        session,
        principal=principal,
        action=AuditAction.CREATE,
        resource_type=ResourceType.ASSESSMENT,
        resource_id=assessment.id,
        organisation_id=organisation_id,
        changes=audit.diff({}, summary),
    )
    return assessment


def readable(principal: Principal) -> ColumnElement[bool] | None:
    """A snapshot shows what its analysis saw: a caller may read it only if it may see all of
    that (a trust's credential cannot read its ICS's system snapshot, nor a trust snapshot that
    shows the ICS's shared assets). Snapshots from before access control: global callers only."""
    in_scope = access.visible(principal, Assessment.seen_from)
    if in_scope is None:
        return None
    return and_(col(Assessment.seen_from).is_not(None), in_scope)


async def get(
    session: AsyncSession, assessment_id: uuid.UUID, *, principal: Principal
) -> Assessment:
    missing = NotFound(f"Assessment {assessment_id} does not exist.")
    statement = select(Assessment).where(Assessment.id == assessment_id)
    visible = readable(principal)
    if visible is not None:
        statement = statement.where(visible)
    found = (await session.exec(statement)).first()
    if found is None:
        raise missing
    return found


async def list_page(
    session: AsyncSession, *, principal: Principal, organisation_id: uuid.UUID, page: PageParams
) -> Sequence[Assessment]:
    await access.organisation(reads_in(session), principal, organisation_id)
    statement = (
        # The list shows no analysis: leave each stored result (tens of KB) in the database.
        select(Assessment)
        .options(defer(cast(QueryableAttribute[Any], Assessment.result)))
        .where(Assessment.organisation_id == organisation_id)
    )
    visible = readable(principal)
    if visible is not None:
        statement = statement.where(visible)
    statement = keyset(
        statement,
        created_at=col(Assessment.created_at),
        row_id=col(Assessment.id),
        params=page,
    )
    return (await session.exec(statement)).all()


def analysis_of(assessment: Assessment) -> GapAnalysis | SystemGapAnalysis:
    if assessment.scope == Scope.SYSTEM:
        return SystemGapAnalysis.model_validate(assessment.result)
    return GapAnalysis.model_validate(assessment.result)


def ref(assessment: Assessment) -> AssessmentRef:
    return AssessmentRef.model_validate(
        {
            "id": assessment.id,
            "created_at": assessment.created_at,
            "reference_model": {"version": assessment.reference_model_version},
            "overall_score": assessment.overall_score,
            "label": assessment.label,
        }
    )


async def compare(
    session: AsyncSession,
    *,
    principal: Principal,
    assessment_id: uuid.UUID,
    other_id: uuid.UUID,
) -> AssessmentComparison | SystemAssessmentComparison:
    this = await get(session, assessment_id, principal=principal)
    if other_id == assessment_id:
        raise ValidationFailed(
            "An assessment compared with itself shows no change; name another one.",
            errors=[FieldIssue("with", "Is the assessment being compared.")],
        )
    try:
        other = await get(session, other_id, principal=principal)
    except NotFound:
        raise NotFound(f"Assessment {other_id} (the 'with' parameter) does not exist.") from None
    if other.organisation_id != this.organisation_id:
        raise ValidationFailed(
            "Only assessments of the same organisation can be compared.",
            errors=[FieldIssue("with", "Belongs to another organisation.")],
        )
    if other.scope != this.scope:
        raise ValidationFailed(
            f"A {this.scope} assessment can only be compared with another {this.scope} one.",
            errors=[FieldIssue("with", f"Is a {other.scope} assessment.")],
        )
    before, after = sorted((this, other), key=lambda a: (a.created_at, str(a.id)))
    old, new = analysis_of(before), analysis_of(after)
    refs = {"before_ref": ref(before), "after_ref": ref(after)}
    if isinstance(old, SystemGapAnalysis) and isinstance(new, SystemGapAnalysis):
        return compare_systems(old, new, **refs)
    if isinstance(old, GapAnalysis) and isinstance(new, GapAnalysis):
        return compare_analyses(old, new, **refs)
    raise AssertionError("scopes were checked to match")


async def first(
    session: AsyncSession, *, principal: Principal, organisation_id: uuid.UUID, scope: Scope
) -> Assessment | None:
    """An organisation's oldest assessment of one scope that the caller may read, with its
    stored analysis: the baseline that progress since the start is measured from."""
    where: list[ColumnElement[bool]] = [
        col(Assessment.organisation_id) == organisation_id,
        col(Assessment.scope) == scope,
    ]
    visible = readable(principal)
    if visible is not None:
        where.append(visible)
    order = (col(Assessment.created_at).asc(), col(Assessment.id).asc())
    return (await session.exec(select(Assessment).where(*where).order_by(*order).limit(1))).first()


async def recent(
    session: AsyncSession,
    *,
    principal: Principal,
    organisation_id: uuid.UUID,
    scope: Scope,
    limit: int,
) -> list[Assessment]:
    """An organisation's latest assessments of one scope that the caller may read, newest
    first: the newest with its stored analysis (to compare with), the rest without it (a
    trend needs only their scores)."""
    order = (col(Assessment.created_at).desc(), col(Assessment.id).desc())
    visible = readable(principal)
    where: list[ColumnElement[bool]] = [
        col(Assessment.organisation_id) == organisation_id,
        col(Assessment.scope) == scope,
    ]
    if visible is not None:
        where.append(visible)
    newest = (
        await session.exec(select(Assessment).where(*where).order_by(*order).limit(1))
    ).first()
    if newest is None:
        return []
    older = await session.exec(
        select(Assessment)
        .options(defer(cast(QueryableAttribute[Any], Assessment.result)))
        .where(*where, col(Assessment.id) != newest.id)
        .order_by(*order)
        .limit(limit - 1)
    )
    return [newest, *older.all()]
