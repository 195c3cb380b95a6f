"""HTTP for the gap analysis of one organisation, or of the system below it."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.analysis import service
from app.analysis.schemas import AnyGapAnalysis
from app.api import MODEL_RETIRED, problem_responses
from app.audit import service as audit
from app.auth.dependencies import PrincipalDep
from app.db import ReadsDep, utcnow
from app.http.answers import GAP_ANALYSIS, AnalysisAnswer
from app.http.content import JSON
from app.http.negotiation import AcceptHeader, FormatQuery, csv_ok, wants_csv
from app.http.params import OrganisationIdPath, ReferenceModelQuery
from app.transfer import gap_csv
from app.transfer.cells import MEDIA_TYPE
from app.vocabulary import ResourceType, Scope

router = APIRouter(tags=["gap-analysis"])


@router.get(
    "/organisations/{organisationId}/gap-analysis",
    operation_id="gap-analysis-get",
    response_model=AnyGapAnalysis,
    responses={
        200: csv_ok(gap_csv.described()),
        **problem_responses(404, 409, 422, conflict=MODEL_RETIRED),
    },
)
async def get_gap_analysis(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    reads: ReadsDep,
    reference_model: ReferenceModelQuery = None,
    scope: Annotated[
        Scope,
        Query(description="organisation: this one alone; system: roll up everything below it."),
    ] = Scope.ORGANISATION,
    analysis_format: FormatQuery = None,
    accept: AcceptHeader = None,
) -> Response:
    """Compare an organisation's map with the reference model: gaps, ranked recommendations
    (as CSV: one row per capability)."""
    remembered, _ = await service.analysed(
        reads,
        principal=principal,
        organisation_id=organisation_id,
        scope=scope,
        model_version=reference_model,
    )
    generated_at = utcnow()
    # Either representation may be asked for at this URL: a cache must key on Accept.
    vary = {"Vary": "Accept"}
    if not wants_csv(analysis_format, accept):
        # The body remembered with the analysis (a hand path: see app.http.answers).
        body = GAP_ANALYSIS.write(AnalysisAnswer(remembered, generated_at))
        return Response(body, media_type=JSON, headers=vary)
    analysis = remembered.at(generated_at)
    day = analysis.generated_at.date().isoformat()
    body = gap_csv.render(analysis)
    await audit.exported(
        reads,
        principal=principal,
        resource_type=ResourceType.GAP_ANALYSIS,
        organisation_id=organisation_id,
        details={
            "format": "csv",
            "scope": scope,
            "reference_model": analysis.reference_model.version,
        },
    )
    return Response(
        body,
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="gap-analysis-{day}.csv"',
            **vary,
        },
    )
