"""HTTP for the questionnaire: generated from a reference model for an organisation type."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api import MODEL_RETIRED, problem_responses
from app.auth.dependencies import PrincipalDep
from app.db import ReadsDep
from app.questionnaire import service
from app.questionnaire.schemas import Questionnaire
from app.reference import service as reference_service
from app.reference.schemas import VERSION_PATTERN
from app.vocabulary import OrganisationType

router = APIRouter(tags=["reference-models"])

VersionPath = Annotated[str, Path(alias="version", pattern=VERSION_PATTERN, examples=["2026.2"])]


@router.get(
    "/reference-models/{version}/questionnaire",
    operation_id="reference-models-questionnaire",
    responses=problem_responses(
        404, 409, 422, conflict=f"{MODEL_RETIRED}: a retired model has no questionnaire"
    ),
)
async def get_questionnaire(
    version: VersionPath,
    principal: PrincipalDep,
    reads: ReadsDep,
    organisation_type: Annotated[
        OrganisationType,
        Query(alias="organisationType", description="Whose questionnaire: the questions differ."),
    ],
) -> Questionnaire:
    """One question per capability that applies to the type, grouped by area in the model's
    order, each answered by a level 0-4 described in the model's words."""
    owners = await reference_service.visible_owners(reads, principal)
    model, _ = await reference_service.get_versioned(reads, version, owners=owners)
    await reference_service.refuse_retired(reads, model)
    return service.build(model, organisation_type)
