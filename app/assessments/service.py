"""Assessment use cases: snapshot the current analysis, list, read, compare."""

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import crud, db
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
from app.errors import FieldIssue, NotFound, ValidationFailed
from app.models import Assessment, ReferenceModel
from app.organisations import service as organisations_service
from app.pagination import PageParams, keyset
from app.reference import service as reference_service
from app.reference.schemas import ReferenceModelPublic
from app.vocabulary import Scope


async def create(
    session: AsyncSession, *, organisation_id: uuid.UUID, data: AssessmentCreate
) -> Assessment:
    await organisations_service.get(session, organisation_id)
    version = data.reference_model or await reference_service.default_version(session)
    # FOR SHARE on the model row: a concurrent PUT waits for this assessment (or this waits for
    # it), while assessments of other organisations on the same model run side by side.
    row = (
        await session.exec(
            select(ReferenceModel)
            .where(ReferenceModel.version == version)
            .with_for_update(read=True)
        )
    ).first()
    if row is None:
        raise ValidationFailed(
            f"Reference model {version} does not exist.",
            errors=[FieldIssue("#/referenceModel", "Unknown reference model version.")],
        )
    model = ReferenceModelPublic.model_validate(row.document)
    analysis: GapAnalysis | SystemGapAnalysis
    if data.scope == Scope.SYSTEM:
        analysis = await analysis_service.system_analysis(
            session, organisation_id=organisation_id, model=model
        )
        score = analysis.summary.average_score
    else:
        analysis = await analysis_service.organisation_analysis(
            session, organisation_id=organisation_id, model=model
        )
        score = analysis.summary.score
    assessment = Assessment(
        id=uuid.uuid4(),
        organisation_id=organisation_id,
        reference_model_version=model.version,
        scope=data.scope.value,
        overall_score=score,
        label=data.label,
        result=analysis.model_dump(mode="json", by_alias=True),
        created_at=analysis.generated_at,
    )
    session.add(assessment)
    await db.commit(session)
    return assessment


async def get(session: AsyncSession, assessment_id: uuid.UUID) -> Assessment:
    return await crud.get_or_404(session, Assessment, assessment_id)


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
