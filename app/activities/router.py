"""HTTP for activities: listed and created under their organisation, addressed on their own."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.activities import service
from app.activities.schemas import (
    ActivityCreate,
    ActivityFilters,
    ActivityPage,
    ActivityPublic,
    ActivityUpdate,
)
from app.api import problem_responses
from app.auth.dependencies import PrincipalDep
from app.db import ReadsDep, Row, SessionDep
from app.http.content import JsonBodyRoute
from app.http.idempotency import IdempotencyKey, create_once, replays
from app.http.links import PageDep, build_page
from app.http.negotiation import AcceptHeader, FormatQuery, csv_ok, wants_csv
from app.http.params import ActivityIdPath, DepthQuery, OrganisationIdPath
from app.http.preconditions import if_match_on, set_etag
from app.http.replica import replica_reads
from app.http.streaming import csv_stream
from app.models import Activity
from app.records import ExpectedVersion
from app.transfer import export
from app.transfer.columns import ACTIVITY_COLUMNS, described

router = APIRouter(tags=["activities"], route_class=JsonBodyRoute)
ActivityIfMatch = Annotated[ExpectedVersion, Depends(if_match_on(Activity, "activityId"))]


def public(linked: service.LinkedActivity) -> ActivityPublic:
    return ActivityPublic.model_validate(
        linked.activity.model_dump() | {"asset_ids": linked.asset_ids}
    )


def _from_row(row: Row) -> ActivityPublic:
    return ActivityPublic.model_validate(service.linked(row))


def _one(response: Response, linked: service.LinkedActivity) -> ActivityPublic:
    set_etag(response, linked.activity.version)
    return public(linked)


@router.post(
    "/organisations/{organisationId}/activities",
    operation_id="activities-create",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 404, 409, 410, 413, 415, 422),
)
@replays(Activity)
async def create_activity(
    organisation_id: OrganisationIdPath,
    data: ActivityCreate,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ActivityPublic:
    """Record an activity the organisation runs."""
    return await create_once(
        request,
        response,
        session,
        idempotency_key,
        create=lambda: service.create(
            session, principal=principal, organisation_id=organisation_id, data=data
        ),
        present=lambda linked: _one(response, linked),
        location=lambda linked: str(request.url_for("activities-get", activityId=linked.id)),
        table=Activity,
    )


@router.get(
    "/organisations/{organisationId}/activities",
    operation_id="activities-list",
    response_model=ActivityPage,
    responses={
        200: csv_ok(described(ACTIVITY_COLUMNS, "activity")),
        **problem_responses(400, 404, 422),
    },
)
async def list_activities(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    reads: ReadsDep,
    request: Request,
    response: Response,
    page: PageDep,
    filters: Annotated[ActivityFilters, Query()],
    depth: DepthQuery = "1",
    list_format: FormatQuery = None,
    accept: AcceptHeader = None,
) -> ActivityPage | Response:
    """List an organisation's activities (or its subtree's), oldest first, with filters; as CSV,
    every matching row."""
    all_levels = depth == "all"
    if wants_csv(list_format, accept):
        chunks = await export.activities_csv(
            await replica_reads(request),
            principal=principal,
            organisation_id=organisation_id,
            all_levels=all_levels,
            filters=filters,
        )
        return csv_stream(chunks, f"activities-{organisation_id}.csv")
    rows = await service.list_page(
        reads,
        principal=principal,
        organisation_id=organisation_id,
        page=page,
        filters=filters,
        all_levels=all_levels,
    )
    return build_page(request, rows, page, _from_row).model(ActivityPage, response)


@router.get(
    "/activities/{activityId}",
    name="activities-get",
    operation_id="activities-get",
    responses=problem_responses(404, 422),
)
async def get_activity(
    activity_id: ActivityIdPath, principal: PrincipalDep, reads: ReadsDep, response: Response
) -> ActivityPublic:
    """Read one activity."""
    public = _from_row(await service.get(reads, activity_id, principal=principal))
    set_etag(response, public.version)
    return public


@router.patch(
    "/activities/{activityId}",
    operation_id="activities-update",
    responses=problem_responses(400, 404, 409, 412, 413, 415, 422, 428),
)
async def update_activity(
    activity_id: ActivityIdPath,
    data: ActivityUpdate,
    expected: ActivityIfMatch,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
) -> ActivityPublic:
    """Change an activity (assetIds given replace the old links)."""
    activity = await service.update(
        session, principal=principal, activity_id=activity_id, data=data, expected=expected
    )
    return _one(response, activity)


@router.delete(
    "/activities/{activityId}",
    operation_id="activities-delete",
    status_code=status.HTTP_204_NO_CONTENT,
    # No body, so no Content-Type either (the default JSON class would still send one).
    response_class=Response,
    responses=problem_responses(400, 404, 412, 422, 428),
)
async def delete_activity(
    activity_id: ActivityIdPath,
    expected: ActivityIfMatch,
    principal: PrincipalDep,
    session: SessionDep,
) -> None:
    """Delete an activity."""
    await service.delete(session, principal=principal, activity_id=activity_id, expected=expected)
