"""HTTP for the gap analysis of one organisation, or of the system below it."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.analysis import service
from app.analysis.answers import AS_JSON, AnyAnalysis
from app.analysis.schemas import AnyGapAnalysis, GapAnalysis
from app.api import MODEL_RETIRED, problem_responses
from app.audit import service as audit
from app.auth.dependencies import PrincipalDep
from app.auth.principal import Principal
from app.crosswalks import service as crosswalks
from app.crosswalks import view_csv
from app.crosswalks.frameworks import Framework
from app.db import ReadContext, utcnow
from app.errors import FieldIssue, ValidationFailed
from app.http.answers import GAP_ANALYSIS, AnalysisAnswer
from app.http.content import JSON
from app.http.negotiation import AcceptHeader, FormatQuery, csv_ok, wants_csv
from app.http.params import OrganisationIdPath, ReferenceModelQuery
from app.http.replica import ReplicaReadsDep
from app.reference.schemas import ReferenceModelPublic
from app.transfer import gap_csv
from app.transfer.cells import MEDIA_TYPE
from app.vocabulary import ResourceType, Scope

router = APIRouter(tags=["gap-analysis"])

ViewQuery = Annotated[
    Framework | None,
    Query(
        description="wgll, nhs-impact or nmg: add frameworkView, the analysis rolled up by that "
        "framework's headings (the model's crosswalk); with format=csv, one row per heading. "
        "Organisation scope only.",
    ),
]


@router.get(
    "/organisations/{organisationId}/gap-analysis",
    operation_id="gap-analysis-get",
    response_model=AnyGapAnalysis,
    responses={
        200: csv_ok(gap_csv.described() + "\n\n" + view_csv.described()),
        **problem_responses(404, 409, 422, conflict=MODEL_RETIRED),
    },
)
async def get_gap_analysis(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    reads: ReplicaReadsDep,
    reference_model: ReferenceModelQuery = None,
    scope: Annotated[
        Scope,
        Query(description="organisation: this one alone; system: roll up everything below it."),
    ] = Scope.ORGANISATION,
    analysis_format: FormatQuery = None,
    accept: AcceptHeader = None,
    view: ViewQuery = None,
) -> Response:
    """Compare an organisation's map with the reference model: gaps, ranked recommendations
    (as CSV: one row per capability; with view, one row per heading of that framework)."""
    if view is not None and scope == Scope.SYSTEM:  # refused before a roll-up is worked out
        raise ValidationFailed(
            "A view by another framework's headings is of one organisation's analysis.",
            errors=[FieldIssue("view", "Use scope=organisation with view.")],
        )
    remembered, choice = await service.analysed(
        reads,
        principal=principal,
        organisation_id=organisation_id,
        scope=scope,
        model_version=reference_model,
    )
    generated_at = utcnow()
    # Either representation may be asked for at this URL: a cache must key on Accept.
    vary = {"Vary": "Accept"}
    if view is not None:
        return await _framework_view(
            reads,
            principal,
            remembered.at(generated_at),
            choice.model,
            view,
            csv=wants_csv(analysis_format, accept),
            headers=vary,
        )
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


async def _framework_view(
    reads: ReadContext,
    principal: Principal,
    analysis: AnyAnalysis,
    model: ReferenceModelPublic,
    framework: Framework,
    *,
    csv: bool,
    headers: dict[str, str],
) -> Response:
    """The analysis with its roll-up by the framework's headings (as CSV: the headings)."""
    assert isinstance(analysis, GapAnalysis), "a system view was refused before"
    rolled = crosswalks.view(analysis, model, crosswalks.for_analysis(model, framework))
    if not csv:
        body = AS_JSON.dump_json(
            analysis.model_copy(update={"framework_view": rolled}), by_alias=True
        )
        return Response(body, media_type=JSON, headers=headers)
    await audit.exported(
        reads,
        principal=principal,
        resource_type=ResourceType.GAP_ANALYSIS,
        organisation_id=analysis.organisation.id,
        details={"format": "csv", "view": framework.value, "reference_model": model.version},
    )
    day = analysis.generated_at.date().isoformat()
    return Response(
        view_csv.render(rolled, model.version),
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="gap-analysis-{framework}-{day}.csv"',
            **headers,
        },
    )
