"""Path parameters shared by the routers, declared once (their aliases are the contract)."""

import uuid
from typing import Annotated

from fastapi import Path

OrganisationIdPath = Annotated[uuid.UUID, Path(alias="organisationId")]
AssetIdPath = Annotated[uuid.UUID, Path(alias="assetId")]
ActivityIdPath = Annotated[uuid.UUID, Path(alias="activityId")]
AssessmentIdPath = Annotated[uuid.UUID, Path(alias="assessmentId")]
