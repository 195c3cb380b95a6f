"""HTTP for assets: listed and created under their organisation, addressed on their own."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.api import problem_responses
from app.assets import answers, service
from app.assets.schemas import AssetCreate, AssetFilters, AssetPage, AssetPublic, AssetUpdate
from app.auth.dependencies import PrincipalDep
from app.db import ReadsDep, SessionDep
from app.http.answers import ASSET_PAGE
from app.http.content import JsonBodyRoute
from app.http.idempotency import IdempotencyKey, create_once, replays
from app.http.links import PageDep, build_page
from app.http.negotiation import AcceptHeader, FormatQuery, csv_ok, wants_csv
from app.http.params import AssetIdPath, DepthQuery, OrganisationIdPath
from app.http.preconditions import if_match_on, set_etag
from app.http.replica import replica_reads
from app.http.streaming import csv_stream
from app.models import Asset
from app.records import ExpectedVersion
from app.transfer import export
from app.transfer.columns import ASSET_COLUMNS, described

router = APIRouter(tags=["assets"], route_class=JsonBodyRoute)
AssetIfMatch = Annotated[ExpectedVersion, Depends(if_match_on(Asset, "assetId"))]


def public(tagged: service.TaggedAsset) -> AssetPublic:
    return AssetPublic.model_validate(tagged.asset.model_dump() | {"tags": tagged.tags})


def _one(response: Response, tagged: service.TaggedAsset) -> AssetPublic:
    set_etag(response, tagged.asset.version)
    return public(tagged)


@router.post(
    "/organisations/{organisationId}/assets",
    operation_id="assets-create",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 404, 409, 410, 413, 415, 422),
)
@replays(Asset)
async def create_asset(
    organisation_id: OrganisationIdPath,
    data: AssetCreate,
    principal: PrincipalDep,
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
        create=lambda: service.create(
            session, principal=principal, organisation_id=organisation_id, data=data
        ),
        present=lambda tagged: _one(response, tagged),
        location=lambda tagged: str(request.url_for("assets-get", assetId=tagged.id)),
        table=Asset,
    )


@router.get(
    "/organisations/{organisationId}/assets",
    operation_id="assets-list",
    response_model=AssetPage,
    responses={
        200: csv_ok(described(ASSET_COLUMNS, "asset")),
        **problem_responses(400, 404, 422),
    },
)
async def list_assets(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    reads: ReadsDep,
    request: Request,
    page: PageDep,
    filters: Annotated[AssetFilters, Query()],
    depth: DepthQuery = "1",
    list_format: FormatQuery = None,
    accept: AcceptHeader = None,
) -> Response:
    """List an organisation's assets (or its subtree's), oldest first, with filters; as CSV,
    every matching row."""
    all_levels = depth == "all"
    if wants_csv(list_format, accept):
        chunks = await export.assets_csv(
            await replica_reads(request),
            principal=principal,
            organisation_id=organisation_id,
            all_levels=all_levels,
            filters=filters,
        )
        return csv_stream(chunks, f"assets-{organisation_id}.csv")
    rows = await service.list_page(
        reads,
        principal=principal,
        organisation_id=organisation_id,
        page=page,
        filters=filters,
        all_levels=all_levels,
    )
    # The rows are the items: the registered hand path writes them (see app.http.answers).
    return build_page(request, rows, page, lambda row: row).written(ASSET_PAGE.write)


@router.get(
    "/assets",
    operation_id="assets-list-all",
    response_model=AssetPage,
    responses={
        200: csv_ok(described(ASSET_COLUMNS, "asset")),
        **problem_responses(400, 422),
    },
)
async def list_all_assets(
    principal: PrincipalDep,
    reads: ReadsDep,
    request: Request,
    response: Response,
    page: PageDep,
    filters: Annotated[AssetFilters, Query()],
    list_format: FormatQuery = None,
    accept: AcceptHeader = None,
) -> AssetPage | Response:
    """List every asset you can read (a global credential: every organisation's; a scoped
    one: its organisation's and those below it), oldest first, with filters; as CSV, every
    matching row, streamed."""
    if wants_csv(list_format, accept):
        chunks = await export.all_assets_csv(
            await replica_reads(request), principal=principal, filters=filters
        )
        return csv_stream(chunks, "assets.csv")
    rows = await service.list_everywhere(reads, principal=principal, page=page, filters=filters)
    return build_page(request, rows, page, answers.public).model(AssetPage, response)


@router.get(
    "/assets/{assetId}",
    name="assets-get",
    operation_id="assets-get",
    response_model=AssetPublic,
    responses=problem_responses(404, 422),
)
async def get_asset(
    asset_id: AssetIdPath, principal: PrincipalDep, reads: ReadsDep, response: Response
) -> AssetPublic:
    """Read one asset."""
    asset = answers.public(await service.get(reads, asset_id, principal=principal))
    set_etag(response, asset.version)
    return asset


@router.patch(
    "/assets/{assetId}",
    operation_id="assets-update",
    responses=problem_responses(400, 404, 409, 412, 413, 415, 422, 428),
)
async def update_asset(
    asset_id: AssetIdPath,
    data: AssetUpdate,
    expected: AssetIfMatch,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
) -> AssetPublic:
    """Change an asset (tags given replace the old ones)."""
    asset = await service.update(
        session, principal=principal, asset_id=asset_id, data=data, expected=expected
    )
    return _one(response, asset)


@router.delete(
    "/assets/{assetId}",
    operation_id="assets-delete",
    status_code=status.HTTP_204_NO_CONTENT,
    # No body, so no Content-Type either (the default JSON class would still send one).
    response_class=Response,
    responses=problem_responses(400, 404, 412, 422, 428),
)
async def delete_asset(
    asset_id: AssetIdPath, expected: AssetIfMatch, principal: PrincipalDep, session: SessionDep
) -> None:
    """Delete an asset; activities that used it no longer list it."""
    await service.delete(session, principal=principal, asset_id=asset_id, expected=expected)
