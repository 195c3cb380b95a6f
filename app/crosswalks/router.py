"""HTTP for crosswalks: a model version's mappings to another framework's headings."""

from typing import Annotated

from fastapi import APIRouter, Path, Request

from app.api import MODEL_RETIRED, Links, problem_responses
from app.auth.dependencies import PrincipalDep
from app.crosswalks import service
from app.crosswalks.frameworks import HEADINGS, TITLES, Framework
from app.crosswalks.schemas import Crosswalk, CrosswalkMapping, Heading, Relationship
from app.db import ReadsDep
from app.reference import service as reference_service
from app.reference.schemas import VERSION_PATTERN

router = APIRouter(prefix="/reference-models", tags=["reference-models"])

VersionPath = Annotated[str, Path(alias="version", pattern=VERSION_PATTERN, examples=["2026.2"])]
FrameworkPath = Annotated[
    Framework,
    Path(
        description="wgll (What Good Looks Like), nhs-impact (NHS IMPACT) or nmg (Network "
        "Maturity Grid)."
    ),
]


@router.get(
    "/{version}/crosswalks/{framework}",
    operation_id="reference-models-crosswalk",
    responses=problem_responses(404, 409, 422, conflict=MODEL_RETIRED),
)
async def get_crosswalk(
    version: VersionPath,
    framework: FrameworkPath,
    principal: PrincipalDep,
    reads: ReadsDep,
    request: Request,
) -> Crosswalk:
    """How a model version's capabilities map to another framework's headings."""
    owners = await reference_service.visible_owners(reads, principal)
    model, crosswalk = await service.get(reads, owners=owners, version=version, framework=framework)
    return Crosswalk(
        framework=framework,
        title=TITLES[framework],
        reference_model_version=model.version,
        statement=crosswalk.statement,
        headings=[Heading(key=k, title=t) for k, t in HEADINGS[framework].items()],
        items=[
            CrosswalkMapping(
                capability_key=m.capability,
                heading=m.heading,
                relationship=Relationship(m.relationship),
                rationale=m.rationale,
            )
            for m in service.in_model_order(model, crosswalk)
        ],
        links=Links(self=str(request.url), next=None),
    )
