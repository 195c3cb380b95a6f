"""The FHIR answer to ``GET /organisations/{id}``, shared by the organisations router and the
FHIR view's own route: a router never imports another router."""

import uuid

from fastapi import Request, Response

from app.auth.principal import Principal
from app.db import ReadContext
from app.fhir import mapping, service
from app.fhir.schemas import FHIR_JSON
from app.http.content import JSON
from app.http.negotiation import best_match
from app.http.preconditions import set_etag


def wants_fhir(accept: str | None) -> bool:
    """For ``GET /organisations/{id}``: our JSON unless Accept prefers FHIR."""
    return best_match([FHIR_JSON, JSON], accept, what="An organisation") == FHIR_JSON


async def fhir_response(
    request: Request,
    reads: ReadContext,
    organisation_id: uuid.UUID,
    media_type: str,
    principal: Principal,
    *,
    route: str = "organisations-fhir",
) -> Response:
    """``route`` serves the parent's resource: partOf points there, so a client stays on the
    address family it started from (the FHIR base, or /organisations/{id}/fhir)."""
    organisation, parent = await service.with_parent(
        reads, organisation_id=organisation_id, principal=principal
    )
    parent_url = None
    if organisation.parent_id is not None:
        parent_url = str(request.url_for(route, organisationId=organisation.parent_id))
    resource = mapping.organization(organisation, parent=parent, parent_url=parent_url)
    response = Response(resource.to_json(), media_type=media_type, headers={"Vary": "Accept"})
    set_etag(response, organisation.version)
    return response
