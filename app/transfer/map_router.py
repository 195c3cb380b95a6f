"""HTTP for the whole map: export an organisation's subtree, import it on another instance.

The import is ``POST /v1/maps/import`` rather than a route under an organisation: the map
brings its own root organisation (with its id), which need not exist here yet."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.api import problem_responses
from app.auth.dependencies import PrincipalDep
from app.db import SessionDep
from app.http.content import JsonBodyRoute
from app.http.params import OrganisationIdPath
from app.http.replica import ReplicaReadsDep
from app.transfer import maps
from app.transfer.map_import import restore
from app.transfer.map_schemas import MapDocument, MapImportResult

router = APIRouter(tags=["maps"], route_class=JsonBodyRoute)


@router.get(
    "/organisations/{organisationId}/map",
    operation_id="maps-export",
    responses=problem_responses(404, 422),
)
async def export_map(
    organisation_id: OrganisationIdPath, principal: PrincipalDep, reads: ReplicaReadsDep
) -> MapDocument:
    """The organisation and everything below it, with assets, activities and assessments."""
    return await maps.export_map(reads, principal=principal, organisation_id=organisation_id)


@router.post(
    "/maps/import",
    operation_id="maps-import",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 403, 409, 413, 415, 422),
)
async def import_map(
    document: MapDocument,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    keep_ids: Annotated[
        bool,
        Query(
            alias="keepIds",
            description="Keep the document's ids (an exact restore; a credential for the whole "
            "service only). Otherwise every record gets a new id: see idMap.",
        ),
    ] = False,
) -> MapImportResult:
    """Recreate an exported map here, all or nothing, with new ids (or its own: keepIds)."""
    result = await restore(session, principal=principal, document=document, keep_ids=keep_ids)
    response.headers["Location"] = str(
        request.url_for("organisations-get", organisationId=result.root_id)
    )
    return result
