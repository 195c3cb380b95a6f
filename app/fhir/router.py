"""HTTP for the FHIR view of an organisation: ``/organisations/{id}/fhir``, and the FHIR base
``/fhir`` (metadata, Organization read and search). Errors under the base are rendered as
OperationOutcome by app.http.problems, not here."""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

import app as package
from app.api import problem_responses
from app.auth.dependencies import PrincipalDep
from app.db import ReadsDep, SessionDep
from app.errors import BadRequest, FieldIssue
from app.fhir import bundle, mapping, search, service
from app.fhir.outcome import outcome_responses
from app.fhir.responses import fhir_response
from app.fhir.schemas import (
    FHIR_JSON,
    FhirBundle,
    FhirCapabilityStatement,
    FhirOrganization,
)
from app.http.content import JSON
from app.http.negotiation import best_match
from app.http.params import OrganisationIdPath
from app.ods.roles import ODS_CODE_SYSTEM
from app.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageParams, encode_cursor

router = APIRouter()


class FhirJSONResponse(JSONResponse):
    """Declares application/fhir+json as the operation's one media type in the document."""

    media_type = FHIR_JSON


@router.get(
    "/organisations/{organisationId}/fhir",
    name="organisations-fhir",
    operation_id="organisations-fhir",
    tags=["organisations"],
    response_model=FhirOrganization,
    response_class=FhirJSONResponse,
    responses=problem_responses(400, 404, 406, 422),
)
async def get_organisation_fhir(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    reads: ReadsDep,
    request: Request,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Read one organisation as a FHIR R4 Organization (UK Core shape)."""
    # A FHIR client may ask for plain application/json: the same resource, under that name.
    media_type = best_match([JSON, FHIR_JSON], accept, what="This resource")
    return await fhir_response(request, reads, organisation_id, media_type, principal)


# -- the FHIR base ------------------------------------------------------------------------

# The day this CapabilityStatement last changed (FHIR requires a date; it is not "now").
CAPABILITIES_DATE = "2026-12-04"
# What the FHIR base offers (ties and no Accept go to the last: FHIR), plain JSON for tools.
OFFERED = [JSON, FHIR_JSON]
FhirAccept = Annotated[str | None, Header(include_in_schema=False)]


def _media_type(accept: str | None) -> str:
    return best_match(OFFERED, accept, what="This FHIR resource")


@router.get(
    "/fhir/metadata",
    name="fhir-metadata",
    operation_id="fhir-metadata",
    tags=["fhir"],
    response_model=FhirCapabilityStatement,
    response_class=FhirJSONResponse,
    responses=outcome_responses(400, 406, 422),
)
async def get_metadata(request: Request, accept: FhirAccept = None) -> Response:
    """What this FHIR base serves (a CapabilityStatement); no credential needed."""
    media_type = _media_type(accept)
    statement = mapping.capability_statement(
        version=package.API_VERSION,
        base_url=str(request.url_for("fhir-metadata")).removesuffix("/metadata"),
        date=CAPABILITIES_DATE,
    )
    return Response(statement.to_json(), media_type=media_type)


@router.get(
    "/fhir/Organization/{organisationId}",
    name="fhir-organization-read",
    operation_id="fhir-organization-read",
    tags=["fhir"],
    response_model=FhirOrganization,
    response_class=FhirJSONResponse,
    responses=outcome_responses(400, 404, 406, 422),
)
async def read_organization(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    reads: ReadsDep,
    request: Request,
    accept: FhirAccept = None,
) -> Response:
    """Read one organisation as a FHIR R4 Organization (as organisations-fhir does)."""
    media_type = _media_type(accept)
    return await fhir_response(
        request, reads, organisation_id, media_type, principal, route="fhir-organization-read"
    )


@router.get(
    "/fhir/Organization",
    name="fhir-organization-search",
    operation_id="fhir-organization-search",
    tags=["fhir"],
    response_model=FhirBundle,
    response_class=FhirJSONResponse,
    responses=outcome_responses(400, 406, 422),
)
async def search_organizations(
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    identifier: Annotated[
        list[str] | None,
        Query(
            max_length=10,
            description=f"An ODS code as a FHIR token: {ODS_CODE_SYSTEM}|RXQ, or RXQ.",
        ),
    ] = None,
    count: Annotated[
        int,
        Query(
            alias="_count",
            ge=0,
            description=f"Matches per page (default {DEFAULT_LIMIT}; more than {MAX_LIMIT} "
            f"gives {MAX_LIMIT}; 0 gives the total only).",
        ),
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            alias="_cursor",
            min_length=1,
            max_length=1000,
            description="Opaque: from the Bundle's next link.",
        ),
    ] = None,
    accept: FhirAccept = None,
    prefer: Annotated[
        str | None,
        Header(description="handling=strict: an unknown parameter is an error, not ignored."),
    ] = None,
) -> Response:
    """Search organisations by ODS code: a searchset Bundle of those the caller may read."""
    media_type = _media_type(accept)
    values = identifier or []
    ignored = search.unsupported(request.query_params.keys())
    if ignored and search.strict(prefer):
        raise BadRequest(
            f"This server does not support the search parameter(s) {', '.join(ignored)}; "
            f"it supports {', '.join(sorted(search.SUPPORTED))}.",
            errors=[FieldIssue((), "Not a supported parameter.", pointer=n) for n in ignored],
        )
    if search.too_many_values(values):
        raise BadRequest(
            f"An identifier parameter names at most {search.MAX_VALUES} values.",
            errors=[FieldIssue((), "Too many values.", pointer=search.IDENTIFIER)],
        )
    page = PageParams(limit=min(count, MAX_LIMIT), cursor=cursor)
    found = await service.search(
        session, principal=principal, match=search.identifier_match(values), page=page
    )
    # The self link names the parameters the search used (FHIR's rule), not those ignored.
    used = [(search.IDENTIFIER, value) for value in values] + [(search.COUNT, str(page.limit))]
    rows = found.rows[: page.limit]
    next_url = None
    if len(found.rows) > page.limit:
        after = encode_cursor(rows[-1].created_at, rows[-1].id)
        next_url = _search_url(request, [*used, (search.CURSOR, after)])
    answer = bundle.searchset(
        rows,
        parents=found.parents,
        total=found.total,
        self_url=_search_url(request, [*used, (search.CURSOR, cursor)] if cursor else used),
        next_url=next_url,
        read_url=lambda organisation_id: str(
            request.url_for("fhir-organization-read", organisationId=organisation_id)
        ),
        ignored=ignored,
    )
    return Response(answer.to_json(), media_type=media_type)


def _search_url(request: Request, parameters: list[tuple[str, str]]) -> str:
    return str(request.url_for("fhir-organization-search").replace(query=urlencode(parameters)))
