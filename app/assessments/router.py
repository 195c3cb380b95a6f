"""HTTP for assessments: immutable snapshots of a gap analysis, and their comparison."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response, status

from app.api import MODEL_RETIRED, problem_responses
from app.assessments import service
from app.assessments.schemas import (
    AnyComparison,
    AssessmentCreate,
    AssessmentPage,
    AssessmentPublic,
    AssessmentSummary,
)
from app.auth.dependencies import PrincipalDep
from app.db import ReadsDep, SessionDep
from app.http.content import JsonBodyRoute
from app.http.idempotency import IdempotencyKey, create_once, replays
from app.http.links import PageDep, build_page
from app.http.params import AssessmentIdPath, OrganisationIdPath
from app.http.preconditions import set_etag
from app.models import Assessment

router = APIRouter(tags=["assessments"], route_class=JsonBodyRoute)


def _summary(assessment: Assessment) -> AssessmentSummary:
    return AssessmentSummary.model_validate(
        service.ref(assessment).model_dump()
        | {"organisation_id": assessment.organisation_id, "scope": assessment.scope}
    )


def _public(assessment: Assessment, response: Response) -> AssessmentPublic:
    set_etag(response, 1)  # immutable: its first version is its only one
    return AssessmentPublic.model_validate(
        _summary(assessment).model_dump() | {"analysis": service.analysis_of(assessment)}
    )


@router.post(
    "/organisations/{organisationId}/assessments",
    operation_id="assessments-create",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        400,
        404,
        409,
        410,
        413,
        415,
        422,
        conflict="Conflict with the current state (the Idempotency-Key's first request is "
        f"still running, or the model changed meanwhile); {MODEL_RETIRED}",
    ),
)
@replays(Assessment)
async def create_assessment(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    session: SessionDep,
    reads: ReadsDep,
    request: Request,
    response: Response,
    data: Annotated[
        AssessmentCreate | None,
        Body(description="Optional: with no body, the organisation alone, on the default model."),
    ] = None,
    idempotency_key: IdempotencyKey = None,
) -> AssessmentPublic:
    """Store the current gap analysis as an immutable snapshot, pinned to its model version."""
    return await create_once(
        request,
        response,
        session,
        idempotency_key,
        create=lambda: service.create(
            session,
            principal=principal,
            organisation_id=organisation_id,
            data=data or AssessmentCreate(),
        ),
        present=lambda assessment: _public(assessment, response),
        location=lambda a: str(request.url_for("assessments-get", assessmentId=a.id)),
        table=Assessment,
    )


@router.get(
    "/organisations/{organisationId}/assessments",
    operation_id="assessments-list",
    responses=problem_responses(400, 404, 422),
)
async def list_assessments(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    page: PageDep,
) -> AssessmentPage:
    """An organisation's assessments, oldest first."""
    rows = await service.list_page(
        session, principal=principal, organisation_id=organisation_id, page=page
    )
    return build_page(request, rows, page, _summary).model(AssessmentPage, response)


@router.get(
    "/assessments/{assessmentId}",
    name="assessments-get",
    operation_id="assessments-get",
    responses=problem_responses(404, 422),
)
async def get_assessment(
    assessment_id: AssessmentIdPath,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
) -> AssessmentPublic:
    """One stored assessment, exactly as it was generated."""
    return _public(await service.get(session, assessment_id, principal=principal), response)


@router.get(
    "/assessments/{assessmentId}/compare",
    operation_id="assessments-compare",
    responses=problem_responses(404, 422),
)
async def compare_assessments(
    assessment_id: AssessmentIdPath,
    principal: PrincipalDep,
    session: SessionDep,
    other_id: Annotated[
        uuid.UUID, Query(alias="with", description="The assessment to compare with.")
    ],
) -> AnyComparison:
    """What changed between two assessments of one organisation (or system): scores, gaps."""
    return await service.compare(
        session, principal=principal, assessment_id=assessment_id, other_id=other_id
    )
