"""HTTP for reference models: read any version, load a new one with PUT."""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response, status

from app.api import MODEL_RETIRED, ApiModel, Links, problem_responses
from app.auth.dependencies import PrincipalDep
from app.db import ReadsDep, SessionDep
from app.http.content import JsonBodyRoute
from app.http.preconditions import parse_if_match, set_etag
from app.reference import gate, service
from app.reference.schemas import (
    VERSION_PATTERN,
    Capability,
    ReferenceModelInput,
    ReferenceModelPublic,
    ReferenceModelSummary,
)
from app.vocabulary import Area, Audience

router = APIRouter(prefix="/reference-models", tags=["reference-models"], route_class=JsonBodyRoute)

VersionPath = Annotated[
    str,
    Path(
        alias="version",
        pattern=VERSION_PATTERN,
        examples=["2024.1"],
    ),
]


class ReferenceModelList(ApiModel):
    items: list[ReferenceModelSummary]
    links: Links


class CapabilityList(ApiModel):
    items: list[Capability]
    links: Links


@router.get("", operation_id="reference-models-list")
async def list_reference_models(
    principal: PrincipalDep, session: SessionDep, request: Request
) -> ReferenceModelList:
    """Every model version the caller may use, oldest first, saying which is the default."""
    items = await service.list_summaries(session, principal=principal)
    return ReferenceModelList(items=items, links=Links(self=str(request.url), next=None))


@router.get(
    "/{version}",
    name="reference-models-get",
    operation_id="reference-models-get",
    responses=problem_responses(404, 422),
)
async def get_reference_model(
    version: VersionPath, principal: PrincipalDep, reads: ReadsDep, response: Response
) -> ReferenceModelPublic:
    """One model version with all its capabilities."""
    owners = await service.visible_owners(reads, principal)
    model, row_version = await service.get_versioned(reads, version, owners=owners)
    set_etag(response, row_version)
    return await service.with_status(reads, model)


@router.get(
    "/{version}/capabilities",
    operation_id="reference-models-capabilities",
    responses=problem_responses(404, 422),
)
async def list_capabilities(
    version: VersionPath,
    principal: PrincipalDep,
    reads: ReadsDep,
    request: Request,
    area: Area | None = None,
    audience: Audience | None = None,
) -> CapabilityList:
    """A model's capabilities, in the model's order, filtered by area or audience."""
    owners = await service.visible_owners(reads, principal)
    model, _ = await service.get_versioned(reads, version, owners=owners)
    items = [
        c
        for c in model.capabilities
        if (area is None or c.area == area) and (audience is None or c.audience == audience)
    ]
    return CapabilityList(items=items, links=Links(self=str(request.url), next=None))


@router.put(
    "/{version}",
    operation_id="reference-models-put",
    responses={
        201: {"description": "Created", "model": ReferenceModelPublic},
        **problem_responses(
            400,
            403,
            409,
            412,
            413,
            415,
            422,
            428,
            conflict="Conflict with the current state (a shipped version, or one pinned by an "
            f"assessment, cannot change); {MODEL_RETIRED} (basedOn)",
        ),
    },
)
async def put_reference_model(
    version: VersionPath,
    data: ReferenceModelInput,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    if_match_header: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="Required to replace an existing version (its ETag); omit to create.",
        ),
    ] = None,
) -> ReferenceModelPublic:
    """Load a model version (or an ICS's variant). A version pinned by an assessment is 409.

    If-Match is required to replace an existing version (its ETag); omit it to create one."""
    expected = None if if_match_header is None else parse_if_match(if_match_header)
    loaded = await gate.load(
        session, principal=principal, version=version, data=data, expected=expected
    )
    if loaded.created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = str(request.url_for("reference-models-get", version=version))
    set_etag(response, loaded.row_version)
    return loaded.model
