"""Path parameters shared by the routers, declared once (their aliases are the contract)."""

import uuid
from typing import Annotated, Literal

from fastapi import Path, Query

from app.reference.schemas import VERSION_PATTERN

OrganisationIdPath = Annotated[uuid.UUID, Path(alias="organisationId")]
AssetIdPath = Annotated[uuid.UUID, Path(alias="assetId")]
ActivityIdPath = Annotated[uuid.UUID, Path(alias="activityId")]
PlanItemIdPath = Annotated[uuid.UUID, Path(alias="planItemId")]
AssessmentIdPath = Annotated[uuid.UUID, Path(alias="assessmentId")]
DepthQuery = Annotated[
    Literal["1", "all"],
    Query(description="1 for this organisation (default), all for its whole subtree."),
]
ReferenceModelQuery = Annotated[
    str | None,
    Query(
        alias="referenceModel",
        pattern=VERSION_PATTERN,
        description="Model version to compare with; default the latest base model.",
    ),
]
