"""HTTP for the national views: every top-level system, and each capability's coverage."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api import MODEL_RETIRED, problem_responses
from app.auth.dependencies import PrincipalDep
from app.http.links import PageDep, build_page
from app.http.params import ReferenceModelQuery
from app.http.replica import ReplicaReadsDep
from app.national import service
from app.national.figures import Listed
from app.national.schemas import (
    CoverageGroupBy,
    NationalCoverage,
    SystemOverview,
    SystemOverviewPage,
)

router = APIRouter()


def _overview(listed: Listed) -> SystemOverview:
    return listed.overview


@router.get(
    "/systems",
    operation_id="systems-list",
    tags=["systems"],
    response_model=SystemOverviewPage,
    responses=problem_responses(400, 422),
)
async def list_systems(
    principal: PrincipalDep,
    reads: ReplicaReadsDep,
    request: Request,
    response: Response,
    page: PageDep,
) -> SystemOverviewPage:
    """List the top-level systems you can read (organisations with no parent that have
    members), oldest first, each with its members, records and scores against the default
    model."""
    rows = await service.systems_page(reads, principal=principal, page=page)
    return build_page(
        request, rows, page, _overview, sort_key=lambda row: (row.created_at, row.id)
    ).model(SystemOverviewPage, response)


@router.get(
    "/capabilities/coverage",
    operation_id="capabilities-coverage",
    tags=["capabilities"],
    response_model=NationalCoverage,
    responses=problem_responses(409, 422, conflict=MODEL_RETIRED),
)
async def get_coverage(
    principal: PrincipalDep,
    reads: ReplicaReadsDep,
    group_by: Annotated[
        CoverageGroupBy,
        Query(alias="groupBy", description="What to count the organisations by."),
    ] = CoverageGroupBy.ORGANISATION_TYPE,
    reference_model: ReferenceModelQuery = None,
) -> NationalCoverage:
    """How many of the organisations you can read meet each capability of the model, by
    organisation type (or sector, or region)."""
    return await service.coverage(
        reads, principal=principal, group_by=group_by, model_version=reference_model
    )
