"""HTTP for benchmarks: where an organisation stands among organisations of its type."""

from fastapi import APIRouter, Request

from app.api import problem_responses
from app.auth.dependencies import PrincipalDep
from app.benchmarks import service
from app.benchmarks.schemas import Benchmark
from app.config import Settings
from app.http.params import OrganisationIdPath
from app.http.replica import ReplicaReadsDep

router = APIRouter(tags=["benchmarks"])


@router.get(
    "/organisations/{organisationId}/benchmark",
    operation_id="benchmarks-get",
    responses=problem_responses(404, 422),
)
async def get_benchmark(
    organisation_id: OrganisationIdPath,
    principal: PrincipalDep,
    reads: ReplicaReadsDep,
    request: Request,
) -> Benchmark:
    """Where the organisation stands among organisations of its type: its own value, the
    median and quartiles, from the last snapshot; a figure too few stand behind is withheld."""
    settings: Settings = request.app.state.settings
    return await service.get(
        reads, principal=principal, organisation_id=organisation_id, settings=settings
    )
