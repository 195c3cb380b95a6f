"""HTTP for assets: listed and created under their organisation, addressed on their own."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from app.api import problem_responses
from app.assets import service
from app.assets.schemas import AssetCreate, AssetPage, AssetPublic, AssetUpdate
from app.concurrency import IfMatchDep, set_etag
from app.db import SessionDep
from app.fields import QueryText
from app.idempotency import IdempotencyKey, create_once
from app.pagination import PageParams, build_page, page_params
from app.vocabulary import Area

router = APIRouter(tags=["assets"])

OrganisationIdPath = Annotated[uuid.UUID, Path(alias="organisationId")]
AssetIdPath = Annotated[uuid.UUID, Path(alias="assetId")]
PageDep = Annotated[PageParams, Depends(page_params)]


def public(tagged: service.TaggedAsset) -> AssetPublic:
    return AssetPublic.model_validate(tagged.asset.model_dump() | {"tags": tagged.tags})


def _one(response: Response, tagged: service.TaggedAsset) -> AssetPublic:
    set_etag(response, tagged.asset.version)
    return public(tagged)


@router.post(
    "/organisations/{organisationId}/assets",
    operation_id="assets-create",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 404, 409, 413, 415, 422),
)
async def create_asset(
    organisation_id: OrganisationIdPath,
    data: AssetCreate,
    session: SessionDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> AssetPublic:
    """Record an asset the organisation has."""
    return await create_once(
        request,
        response,
        session,
        idempotency_key,
        create=lambda: service.create(session, organisation_id=organisation_id, data=data),
        present=lambda tagged: _one(response, tagged),
        location=lambda tagged: str(request.url_for("assets-get", assetId=tagged.id)),
    )


@router.get(
    "/organisations/{organisationId}/assets",
    operation_id="assets-list",
    responses=problem_responses(400, 404, 422),
)
async def list_assets(
    organisation_id: OrganisationIdPath,
    session: SessionDep,
    request: Request,
    response: Response,
    page: PageDep,
    area: Area | None = None,
    capability_key: Annotated[QueryText | None, Query(alias="capabilityKey", max_length=64)] = None,
    min_maturity: Annotated[int | None, Query(alias="minMaturity", ge=0, le=4)] = None,
    max_maturity: Annotated[int | None, Query(alias="maxMaturity", ge=0, le=4)] = None,
    tag: Annotated[QueryText | None, Query(max_length=64)] = None,
) -> AssetPage:
    """List an organisation's assets, oldest first, with filters."""
    rows = await service.list_page(
        session,
        organisation_id=organisation_id,
        page=page,
        area=area,
        capability_key=capability_key,
        min_maturity=min_maturity,
        max_maturity=max_maturity,
        tag=tag,
    )
    return build_page(request, response, rows, page, public, AssetPage)


@router.get(
    "/assets/{assetId}",
    name="assets-get",
    operation_id="assets-get",
    responses=problem_responses(404, 422),
)
async def get_asset(asset_id: AssetIdPath, session: SessionDep, response: Response) -> AssetPublic:
    """Read one asset."""
    return _one(response, await service.get(session, asset_id))


@router.patch(
    "/assets/{assetId}",
    operation_id="assets-update",
    responses=problem_responses(400, 404, 409, 412, 413, 415, 422, 428),
)
async def update_asset(
    asset_id: AssetIdPath,
    data: AssetUpdate,
    expected: IfMatchDep,
    session: SessionDep,
    response: Response,
) -> AssetPublic:
    """Change an asset (tags given replace the old ones)."""
    return _one(
        response, await service.update(session, asset_id=asset_id, data=data, expected=expected)
    )


@router.delete(
    "/assets/{assetId}",
    operation_id="assets-delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400, 404, 412, 422, 428),
)
async def delete_asset(asset_id: AssetIdPath, expected: IfMatchDep, session: SessionDep) -> None:
    """Delete an asset; activities that used it no longer list it."""
    await service.delete(session, asset_id=asset_id, expected=expected)
