"""HTTP for the FHIR view of an organisation: ``/organisations/{id}/fhir``, and the choice
between our JSON and FHIR that ``GET /organisations/{id}`` makes from Accept."""

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from app.api import problem_responses
from app.auth.dependencies import PrincipalDep
from app.db import ReadsDep
from app.fhir.responses import fhir_response
from app.fhir.schemas import FHIR_JSON, FhirOrganization
from app.http.content import JSON
from app.http.negotiation import best_match
from app.http.params import OrganisationIdPath

router = APIRouter(tags=["organisations"])


class FhirJSONResponse(JSONResponse):
    """Declares application/fhir+json as the operation's one media type in the document."""

    media_type = FHIR_JSON


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
    reads: ReadsDep,
    request: Request,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Read one organisation as a FHIR R4 Organization (UK Core shape)."""
    # A FHIR client may ask for plain application/json: the same resource, under that name.
    media_type = best_match([JSON, FHIR_JSON], accept, what="This resource")
    return await fhir_response(request, reads, organisation_id, media_type, principal)
