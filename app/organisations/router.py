"""HTTP for organisations: parse, call the service, return the contract."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from app.api import problem_responses
from app.auth.dependencies import PrincipalDep
from app.db import ReadsDep, SessionDep
from app.fhir.responses import fhir_response, wants_fhir
from app.fhir.schemas import FHIR_JSON
from app.http.content import JsonBodyRoute
from app.http.idempotency import IdempotencyKey, create_once, replays
from app.http.links import PageDep, build_page
from app.http.params import OrganisationIdPath
from app.http.preconditions import if_match_on, set_etag
from app.models import Organisation
from app.organisations import service
from app.organisations.schemas import (
    OrganisationCreate,
    OrganisationFilters,
    OrganisationPage,
    OrganisationPublic,
    OrganisationUpdate,
)
from app.records import ExpectedVersion

router = APIRouter(prefix="/organisations", tags=["organisations"], route_class=JsonBodyRoute)
OrganisationIfMatch = Annotated[
    ExpectedVersion, Depends(if_match_on(Organisation, "organisationId"))
]


def _one(response: Response, organisation: object) -> OrganisationPublic:
    public = OrganisationPublic.model_validate(organisation)
    set_etag(response, public.version)
    return public


@router.post(
    "",
    operation_id="organisations-create",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 409, 410, 413, 415, 422),
)
@replays(Organisation)
async def create_organisation(
    data: OrganisationCreate,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> OrganisationPublic:
    """Record an organisation (trust, ICS, network, practice...), optionally inside a parent."""
    return await create_once(
        request,
        response,
        session,
        idempotency_key,
        create=lambda: service.create(session, principal=principal, data=data),
        present=lambda organisation: _one(response, organisation),
        location=lambda o: str(request.url_for("organisations-get", organisationId=o.id)),
        table=Organisation,
    )


@router.get("", operation_id="organisations-list", responses=problem_responses(400, 422))
async def list_organisations(
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    page: PageDep,
    filters: Annotated[OrganisationFilters, Query()],
) -> OrganisationPage:
    """List organisations, oldest first, with filters."""
    rows = await service.list_page(session, principal=principal, page=page, filters=filters)
    return build_page(request, rows, page, OrganisationPublic.model_validate).model(
        OrganisationPage, response
    )


@router.get(
    "/{organisationId}",
    name="organisations-get",
    operation_id="organisations-get",
    response_model=OrganisationPublic,
    # Only our JSON is declared: generated clients parse a 200 with the one schema of its
    # first media type, and this is what they are sent (they do not ask for FHIR). FHIR has
    # its own operation, organisations-fhir; Accept still picks it here for curl and FHIR
    # tools, as docs/fhir.md says.
    responses=problem_responses(400, 404, 406, 422),
)
async def get_organisation(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    reads: ReadsDep,
    request: Request,
    response: Response,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> OrganisationPublic | Response:
    """Read one organisation (as a FHIR Organization: organisations-fhir, its /fhir address)."""
    response.headers["Vary"] = "Accept"
    if wants_fhir(accept):
        return await fhir_response(request, reads, organisation_id, FHIR_JSON, principal)
    public = await service.get(reads, organisation_id, principal=principal)
    set_etag(response, public.version)
    return public


@router.patch(
    "/{organisationId}",
    operation_id="organisations-update",
    responses=problem_responses(400, 404, 409, 412, 413, 415, 422, 428),
)
async def update_organisation(
    organisation_id: OrganisationIdPath,
    data: OrganisationUpdate,
    expected: OrganisationIfMatch,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
) -> OrganisationPublic:
    """Change an organisation; a new parent that would make a cycle is refused (409)."""
    organisation = await service.update(
        session, principal=principal, organisation_id=organisation_id, data=data, expected=expected
    )
    return _one(response, organisation)


@router.delete(
    "/{organisationId}",
    operation_id="organisations-delete",
    status_code=status.HTTP_204_NO_CONTENT,
    # No body, so no Content-Type either (the default JSON class would still send one).
    response_class=Response,
    responses=problem_responses(400, 404, 409, 412, 422, 428),
)
async def delete_organisation(
    organisation_id: OrganisationIdPath,
    expected: OrganisationIfMatch,
    principal: PrincipalDep,
    session: SessionDep,
) -> None:
    """Delete an organisation with its assets and activities; refused (409) if it has members."""
    await service.delete(
        session, principal=principal, organisation_id=organisation_id, expected=expected
    )


@router.get(
    "/{organisationId}/members",
    operation_id="organisations-members",
    responses=problem_responses(400, 404, 422),
)
async def list_members(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    page: PageDep,
    depth: Annotated[
        Literal["1", "all"],
        Query(description="1 for direct members (default), all for the whole subtree."),
    ] = "1",
) -> OrganisationPage:
    """Members of an organisation: direct ones, or with ?depth=all every level below it."""
    rows = await service.members(
        session,
        principal=principal,
        organisation_id=organisation_id,
        all_levels=depth == "all",
        page=page,
    )
    return build_page(request, rows, page, OrganisationPublic.model_validate).model(
        OrganisationPage, response
    )
