"""HTTP for self-assessments: opened and listed under their organisation, addressed on their
own; answers, submit and moderation below the self-assessment."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import PlainTextResponse

from app.api import MODEL_RETIRED, problem_responses
from app.auth.dependencies import PrincipalDep
from app.db import ReadsDep, SessionDep
from app.http.content import JsonBodyRoute
from app.http.idempotency import IdempotencyKey, create_once, replays
from app.http.links import PageDep, build_page
from app.http.negotiation import AcceptHeader, FormatQuery, csv_ok, wants_csv
from app.http.params import OrganisationIdPath
from app.http.preconditions import if_match_on, set_etag
from app.models import SelfAssessment
from app.records import ExpectedVersion
from app.selfassessments import service
from app.selfassessments.schemas import (
    AnswerInput,
    ModerationInput,
    SelfAssessmentCreate,
    SelfAssessmentPage,
    SelfAssessmentPublic,
    SelfAssessmentSummary,
    SubmitRequest,
)

router = APIRouter(tags=["self-assessments"], route_class=JsonBodyRoute)

SelfAssessmentIdPath = Annotated[uuid.UUID, Path(alias="selfAssessmentId")]
CapabilityKeyPath = Annotated[
    str, Path(alias="capabilityKey", pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64)
]
SelfAssessmentIfMatch = Annotated[
    ExpectedVersion, Depends(if_match_on(SelfAssessment, "selfAssessmentId"))
]


def _one(response: Response, view: service.SelfAssessmentView) -> SelfAssessmentPublic:
    set_etag(response, view.self_assessment.version)
    return SelfAssessmentPublic.model_validate(view.fields())


@router.post(
    "/organisations/{organisationId}/self-assessments",
    operation_id="self-assessments-create",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        400,
        403,
        404,
        409,
        413,
        415,
        422,
        conflict=f"An open draft for that model exists already; {MODEL_RETIRED}",
    ),
)
@replays(SelfAssessment)
async def open_self_assessment(
    organisation_id: OrganisationIdPath,
    data: SelfAssessmentCreate,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> SelfAssessmentPublic:
    """Open a draft self-assessment: the questionnaire of a model version, to answer. One open
    draft per organisation and model version."""
    return await create_once(
        request,
        response,
        session,
        idempotency_key,
        create=lambda: service.open_draft(
            session, principal=principal, organisation_id=organisation_id, data=data
        ),
        present=lambda view: _one(response, view),
        location=lambda view: str(
            request.url_for("self-assessments-get", selfAssessmentId=view.id)
        ),
        table=SelfAssessment,
    )


@router.get(
    "/organisations/{organisationId}/self-assessments",
    operation_id="self-assessments-list",
    responses=problem_responses(400, 404, 422),
)
async def list_self_assessments(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    reads: ReadsDep,
    request: Request,
    response: Response,
    page: PageDep,
) -> SelfAssessmentPage:
    """An organisation's self-assessments, oldest first (drafts and submitted)."""
    rows = await service.list_for(
        reads, principal=principal, organisation_id=organisation_id, page=page
    )

    def item(row: SelfAssessment) -> SelfAssessmentSummary:
        return SelfAssessmentSummary.model_validate(
            row.model_dump() | {"reference_model": row.reference_model_version}
        )

    return build_page(request, rows, page, item).model(SelfAssessmentPage, response)


@router.get(
    "/self-assessments/{selfAssessmentId}",
    name="self-assessments-get",
    operation_id="self-assessments-get",
    response_model=SelfAssessmentPublic,
    responses={
        200: csv_ok("One row per answer, with its moderation (a submitted one only)."),
        **problem_responses(404, 409, 422),
    },
)
async def get_self_assessment(
    self_assessment_id: SelfAssessmentIdPath,
    principal: PrincipalDep,
    reads: ReadsDep,
    response: Response,
    answer_format: FormatQuery = None,
    accept: AcceptHeader = None,
) -> SelfAssessmentPublic | Response:
    """One self-assessment with its answers; as CSV (a submitted one), one row per answer."""
    if wants_csv(answer_format, accept):
        text = await service.export_csv(reads, self_assessment_id, principal=principal)
        return PlainTextResponse(
            text,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="self-assessment-{self_assessment_id}.csv"'
                ),
                "Vary": "Accept",
            },
        )
    view = await service.get(reads, self_assessment_id, principal=principal)
    return _one(response, view)


@router.put(
    "/self-assessments/{selfAssessmentId}/answers/{capabilityKey}",
    operation_id="self-assessments-answer",
    responses=problem_responses(
        400, 403, 404, 409, 413, 415, 422, conflict="The self-assessment is submitted: read-only"
    ),
)
async def answer_question(
    self_assessment_id: SelfAssessmentIdPath,
    capability_key: CapabilityKeyPath,
    data: AnswerInput,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
) -> SelfAssessmentPublic:
    """Record (or replace) the answer to one question of a draft: a level 0-4, or
    notApplicable where the question allows it, with a comment and evidence links."""
    view = await service.record_answer(
        session,
        principal=principal,
        self_assessment_id=self_assessment_id,
        capability_key=capability_key,
        answer=data,
    )
    return _one(response, view)


@router.post(
    "/self-assessments/{selfAssessmentId}/submit",
    operation_id="self-assessments-submit",
    responses=problem_responses(
        400,
        403,
        404,
        409,
        412,
        422,
        428,
        conflict=f"Submitted already; {MODEL_RETIRED}",
    ),
)
async def submit_self_assessment(
    self_assessment_id: SelfAssessmentIdPath,
    expected: SelfAssessmentIfMatch,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
    options: SubmitRequest | None = None,
) -> SelfAssessmentPublic:
    """Submit a draft (If-Match its ETag): each answer is written into the organisation's
    records (the record this questionnaire wrote last time is updated, otherwise one is made),
    and the analysis is stored as an assessment, all or nothing. 412 names any record changed
    by someone else since its answer was saved. Read-only afterwards."""
    view = await service.submit(
        session, principal=principal, self_assessment_id=self_assessment_id, expected=expected
    )
    return _one(response, view)


@router.post(
    "/self-assessments/{selfAssessmentId}/answers/{capabilityKey}/moderation",
    operation_id="self-assessments-moderate",
    responses=problem_responses(
        400, 403, 404, 409, 413, 415, 422, conflict="A draft, or an answer with no record"
    ),
)
async def moderate_answer(
    self_assessment_id: SelfAssessmentIdPath,
    capability_key: CapabilityKeyPath,
    data: ModerationInput,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
) -> SelfAssessmentPublic:
    """Agree with a submitted answer, or change its level with a reason: its record becomes
    peer_reviewed, reviewed by you. Editors and admins of the organisation or of one above it
    moderate; never the answer's author."""
    view = await service.moderate(
        session,
        principal=principal,
        self_assessment_id=self_assessment_id,
        capability_key=capability_key,
        data=data,
    )
    return _one(response, view)
