"""Assessment use cases: snapshot the current analysis, list, read, compare."""

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import records
from app.analysis import service as analysis_service
from app.analysis.schemas import GapAnalysis, SystemGapAnalysis
from app.assessments.compare import compare as compare_analyses
from app.assessments.compare import compare_systems
from app.assessments.schemas import (
    AssessmentComparison,
    AssessmentCreate,
    AssessmentRef,
    SystemAssessmentComparison,
)
from app.db import Sessions
from app.errors import Conflict, FieldIssue, NotFound, ValidationFailed
from app.models import Assessment, ReferenceModel
from app.organisations import service as organisations_service
from app.pagination import PageParams, keyset
from app.vocabulary import Scope


async def create(
    session: AsyncSession, *, sessions: Sessions, organisation_id: uuid.UUID, data: AssessmentCreate
) -> Assessment:
    """Analyse from one read snapshot (no write lock held meanwhile), then write the result in
    a short transaction that pins the model version it used."""
    analysis, choice = await analysis_service.analyse(
        sessions,
        organisation_id=organisation_id,
        scope=data.scope,
        model_version=data.reference_model,
    )
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
    score = (
        analysis.summary.average_score
        if isinstance(analysis, SystemGapAnalysis)
        else analysis.summary.score
    )
    assessment = Assessment(
        id=uuid.uuid4(),
        organisation_id=organisation_id,
        reference_model_version=choice.model.version,
        scope=data.scope,
        overall_score=score,
        label=data.label,
        result=analysis.model_dump(mode="json", by_alias=True),
        created_at=analysis.generated_at,
    )
    session.add(assessment)
    await session.flush()
    return assessment


async def get(session: AsyncSession, assessment_id: uuid.UUID) -> Assessment:
    return await records.get_or_404(session, Assessment, assessment_id)


async def list_page(
    session: AsyncSession, *, organisation_id: uuid.UUID, page: PageParams
) -> Sequence[Assessment]:
    await organisations_service.get(session, organisation_id)
    statement = keyset(
        # The list shows no analysis: leave each stored result (tens of KB) in the database.
        select(Assessment)
        .options(defer(cast(QueryableAttribute[Any], Assessment.result)))
        .where(Assessment.organisation_id == organisation_id),
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
    session: AsyncSession, *, assessment_id: uuid.UUID, other_id: uuid.UUID
) -> AssessmentComparison | SystemAssessmentComparison:
    this = await get(session, assessment_id)
    if other_id == assessment_id:
        raise ValidationFailed(
            "An assessment compared with itself shows no change; name another one.",
            errors=[FieldIssue("with", "Is the assessment being compared.")],
        )
    other = await session.get(Assessment, other_id)
    if other is None:
        raise NotFound(f"Assessment {other_id} (the 'with' parameter) does not exist.")
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


async def recent(
    session: AsyncSession, *, organisation_id: uuid.UUID, scope: Scope, limit: int
) -> list[Assessment]:
    """An organisation's latest assessments of one scope, newest first: the newest with its
    stored analysis (to compare with), the rest without it (a trend needs only their scores)."""
    order = (col(Assessment.created_at).desc(), col(Assessment.id).desc())
    where = (Assessment.organisation_id == organisation_id, Assessment.scope == scope.value)
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
