"""HTTP for plan items: listed and created under their organisation, addressed on their own."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.api import problem_responses
from app.auth.dependencies import PrincipalDep
from app.db import ReadsDep, Row, SessionDep
from app.http.content import JsonBodyRoute
from app.http.idempotency import IdempotencyKey, create_once, replays
from app.http.links import PageDep, build_page
from app.http.negotiation import AcceptHeader, FormatQuery, csv_ok, wants_csv
from app.http.params import DepthQuery, OrganisationIdPath, PlanItemIdPath
from app.http.preconditions import if_match_on, set_etag
from app.http.replica import replica_reads
from app.http.streaming import csv_stream
from app.models import PlanItem
from app.plans import service
from app.plans.schemas import (
    PlanItemCreate,
    PlanItemFilters,
    PlanItemPage,
    PlanItemPublic,
    PlanItemUpdate,
)
from app.records import ExpectedVersion
from app.transfer import export
from app.transfer.columns import PLAN_ITEM_COLUMNS, described

router = APIRouter(tags=["plan-items"], route_class=JsonBodyRoute)
PlanItemIfMatch = Annotated[ExpectedVersion, Depends(if_match_on(PlanItem, "planItemId"))]


def _from_row(row: Row) -> PlanItemPublic:
    return PlanItemPublic.model_validate(service.linked(row))


def _one(response: Response, linked: service.LinkedPlanItem) -> PlanItemPublic:
    set_etag(response, linked.item.version)
    return PlanItemPublic.model_validate(service.linked(linked.fields()))


@router.post(
    "/organisations/{organisationId}/plan-items",
    operation_id="plan-items-create",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 404, 409, 410, 413, 415, 422),
)
@replays(PlanItem)
async def create_plan_item(
    organisation_id: OrganisationIdPath,
    data: PlanItemCreate,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> PlanItemPublic:
    """Add an item to the organisation's action plan."""
    return await create_once(
        request,
        response,
        session,
        idempotency_key,
        create=lambda: service.create(
            session, principal=principal, organisation_id=organisation_id, data=data
        ),
        present=lambda linked: _one(response, linked),
        location=lambda linked: str(request.url_for("plan-items-get", planItemId=linked.id)),
        table=PlanItem,
    )


@router.get(
    "/organisations/{organisationId}/plan-items",
    operation_id="plan-items-list",
    response_model=PlanItemPage,
    responses={
        200: csv_ok(described(PLAN_ITEM_COLUMNS, "plan item")),
        **problem_responses(400, 404, 422),
    },
)
async def list_plan_items(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    reads: ReadsDep,
    request: Request,
    response: Response,
    page: PageDep,
    filters: Annotated[PlanItemFilters, Query()],
    depth: DepthQuery = "1",
    list_format: FormatQuery = None,
    accept: AcceptHeader = None,
) -> PlanItemPage | Response:
    """List an organisation's plan items (or its subtree's), oldest first, with filters; as
    CSV, every matching row."""
    all_levels = depth == "all"
    if wants_csv(list_format, accept):
        chunks = await export.plan_items_csv(
            await replica_reads(request),
            principal=principal,
            organisation_id=organisation_id,
            all_levels=all_levels,
            filters=filters,
        )
        return csv_stream(chunks, f"plan-items-{organisation_id}.csv")
    rows = await service.list_page(
        reads,
        principal=principal,
        organisation_id=organisation_id,
        page=page,
        filters=filters,
        all_levels=all_levels,
    )
    return build_page(request, rows, page, _from_row).model(PlanItemPage, response)


@router.get(
    "/plan-items/{planItemId}",
    name="plan-items-get",
    operation_id="plan-items-get",
    responses=problem_responses(404, 422),
)
async def get_plan_item(
    plan_item_id: PlanItemIdPath, principal: PrincipalDep, reads: ReadsDep, response: Response
) -> PlanItemPublic:
    """Read one plan item."""
    public = _from_row(await service.get(reads, plan_item_id, principal=principal))
    set_etag(response, public.version)
    return public


@router.patch(
    "/plan-items/{planItemId}",
    operation_id="plan-items-update",
    responses=problem_responses(400, 404, 409, 412, 413, 415, 422, 428),
)
async def update_plan_item(
    plan_item_id: PlanItemIdPath,
    data: PlanItemUpdate,
    expected: PlanItemIfMatch,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
) -> PlanItemPublic:
    """Change a plan item (assetIds or activityIds given replace the old links)."""
    item = await service.update(
        session, principal=principal, plan_item_id=plan_item_id, data=data, expected=expected
    )
    return _one(response, item)


@router.delete(
    "/plan-items/{planItemId}",
    operation_id="plan-items-delete",
    status_code=status.HTTP_204_NO_CONTENT,
    # No body, so no Content-Type either (the default JSON class would still send one).
    response_class=Response,
    responses=problem_responses(400, 404, 412, 422, 428),
)
async def delete_plan_item(
    plan_item_id: PlanItemIdPath,
    expected: PlanItemIfMatch,
    principal: PrincipalDep,
    session: SessionDep,
) -> None:
    """Delete a plan item."""
    await service.delete(session, principal=principal, plan_item_id=plan_item_id, expected=expected)
