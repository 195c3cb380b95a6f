"""HTTP for the FHIR view of an organisation: ``/organisations/{id}/fhir``, and the choice
between our JSON and FHIR that ``GET /organisations/{id}`` makes from Accept."""

import uuid
from typing import Annotated

import mimeparse
from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from app.api import problem_responses
from app.auth.dependencies import PrincipalDep
from app.auth.principal import Principal
from app.db import SessionDep
from app.errors import BadRequest, FieldIssue, NotAcceptable
from app.fhir import mapping, service
from app.fhir.schemas import FHIR_JSON, FhirOrganization
from app.http.content import JSON
from app.http.params import OrganisationIdPath
from app.http.preconditions import set_etag

router = APIRouter(tags=["organisations"])


class FhirJSONResponse(JSONResponse):
    """Declares application/fhir+json as the operation's one media type in the document."""

    media_type = FHIR_JSON


def best_match(offered: list[str], accept: str | None, *, what: str) -> str:
    """The Accept header's best match among ``offered`` (ties go to the last one; an absent or
    empty header takes the last one). None acceptable is 406."""
    if not accept or not accept.strip():
        return offered[-1]
    try:
        best = str(mimeparse.best_match(offered, accept))
    except mimeparse.MimeTypeParseException as exc:
        raise BadRequest(
            "The Accept header is not a list of media ranges.",
            errors=[FieldIssue((), str(exc), pointer="Accept")],
        ) from exc
    if not best:
        allowed = " or ".join(offered)
        raise NotAcceptable(
            f"{what} is available as {allowed}; Accept allows neither.",
            errors=[FieldIssue((), f"Allow {allowed}.", pointer="Accept")],
        )
    return best


def wants_fhir(accept: str | None) -> bool:
    """For ``GET /organisations/{id}``: our JSON unless Accept prefers FHIR."""
    return best_match([FHIR_JSON, JSON], accept, what="An organisation") == FHIR_JSON


async def fhir_response(
    request: Request,
    session: AsyncSession,
    organisation_id: uuid.UUID,
    media_type: str,
    principal: Principal,
) -> Response:
    organisation, parent = await service.with_parent(
        session, organisation_id=organisation_id, principal=principal
    )
    parent_url = None
    if organisation.parent_id is not None:
        parent_url = str(
            request.url_for("organisations-fhir", organisationId=organisation.parent_id)
        )
    resource = mapping.organization(organisation, parent=parent, parent_url=parent_url)
    response = Response(resource.to_json(), media_type=media_type, headers={"Vary": "Accept"})
    set_etag(response, organisation.version)
    return response


@router.get(
    "/organisations/{organisationId}/fhir",
    name="organisations-fhir",
    operation_id="organisations-fhir",
    response_model=FhirOrganization,
    response_class=FhirJSONResponse,
    responses=problem_responses(400, 404, 406, 422),
)
async def get_organisation_fhir(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Read one organisation as a FHIR R4 Organization (UK Core shape)."""
    # A FHIR client may ask for plain application/json: the same resource, under that name.
    media_type = best_match([JSON, FHIR_JSON], accept, what="This resource")
    return await fhir_response(request, session, organisation_id, media_type, principal)
