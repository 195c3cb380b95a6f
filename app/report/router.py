"""HTTP for the board report: choose HTML, PDF or CSV, gather the analysis, render it."""

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api import MODEL_RETIRED, problem_responses
from app.audit import service as audit
from app.auth import browser
from app.auth.dependencies import PrincipalDep
from app.auth.headers import CSP_NONCE, content_security_policy
from app.crosswalks.frameworks import Framework
from app.http.negotiation import best_match
from app.http.params import OrganisationIdPath, ReferenceModelQuery
from app.http.replica import ReplicaReadsDep
from app.report import pdf, render, service, spreadsheet
from app.transfer import cells
from app.vocabulary import ResourceType

router = APIRouter(tags=["reports"])

HTML = "text/html"
CSV = "text/csv"
PDF = pdf.MEDIA_TYPE


class ReportFormat(StrEnum):
    HTML = "html"
    CSV = "csv"
    PDF = "pdf"


def negotiate(requested: ReportFormat | None, accept: str | None) -> ReportFormat:
    """?format= wins; otherwise the Accept header's best match, HTML on a tie or when absent."""
    if requested is not None:
        return requested
    best = best_match([PDF, CSV, HTML], accept, what="The report")
    return {CSV: ReportFormat.CSV, PDF: ReportFormat.PDF}.get(best, ReportFormat.HTML)


_CSV_HEADER = "\n".join(f"- `{name}`: {meaning}" for name, meaning in spreadsheet.COLUMNS.items())
OK: dict[str, Any] = {
    "description": "The report as a self-contained HTML page or an A4 PDF (tagged, PDF/UA-1: "
    "the same content, with page numbers), or its recommendations as CSV.",
    "content": {
        HTML: {"schema": {"type": "string"}},
        PDF: {"schema": {"type": "string", "format": "binary"}},
        CSV: {
            "schema": {
                "type": "string",
                "description": "UTF-8 with a byte-order mark, one row per recommendation, "
                "this header:\n" + _CSV_HEADER,
            }
        },
    },
}


@router.get(
    "/organisations/{organisationId}/report",
    name="reports-get",
    operation_id="reports-get",
    response_class=HTMLResponse,
    responses={
        200: OK,
        303: browser.EXCHANGE,
        **problem_responses(400, 404, 406, 409, 422, conflict=MODEL_RETIRED),
    },
)
async def get_report(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    reads: ReplicaReadsDep,
    request: Request,
    reference_model: ReferenceModelQuery = None,
    report_format: Annotated[
        ReportFormat | None,
        Query(
            alias="format",
            description="html, pdf or csv; overrides Accept. Default: Accept's choice, else html.",
        ),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
    view: Annotated[
        Framework | None,
        Query(
            description="wgll, nhs-impact or nmg: add a section scoring the organisation by "
            "that framework's headings (HTML and PDF).",
        ),
    ] = None,
) -> Response:
    """A printable board report (HTML or PDF), or its recommendations as CSV."""
    chosen = negotiate(report_format, accept)
    report = await service.gather(
        reads,
        principal=principal,
        organisation_id=organisation_id,
        model_version=reference_model,
        view=view,
        settings=request.app.state.settings,
    )
    if chosen in (ReportFormat.CSV, ReportFormat.PDF):
        name = report.organisation.ods_code or str(report.organisation.id)
        day = report.analysis.generated_at.date().isoformat()
        body: str | bytes
        if chosen == ReportFormat.CSV:
            filename = f"lhs-recommendations-{name}-{day}.csv"
            body, media_type = spreadsheet.render(report.analysis, report.system), cells.MEDIA_TYPE
        else:
            filename = f"lhs-report-{name}-{day}.pdf"
            body, media_type = await pdf.pdf(report), PDF
        # Both are files that leave the service: on record like any export (the HTML page is
        # read in place, as the analysis it shows is).
        await audit.exported(
            reads,
            principal=principal,
            resource_type=ResourceType.REPORT,
            organisation_id=organisation_id,
            details={
                "format": chosen.value,
                "views": ["organisation"] if report.system is None else ["organisation", "system"],
                "reference_model": report.analysis.reference_model.version,
            },
        )
        return Response(
            body,
            media_type=media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Vary": "Accept",
            },
        )
    # The page's one style block is allowed by its hash; nothing else inline runs.
    policy = content_security_policy(
        request.scope.get("state", {}).get(CSP_NONCE, ""),
        request.app.state.settings.frame_ancestors,
        styles=[render.style_csp_source()],
    )
    return HTMLResponse(
        render.html(report, access_form=browser.access_form(request)),
        headers={"Vary": "Accept", "Content-Security-Policy": policy},
    )
