"""The activity contract: what an organisation does, in one of the four areas."""

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import ConfigDict, Field, JsonValue, ValidationInfo, field_validator

from app.api import ApiInput, ApiModel, ApiPatch, ApiQuery, Page
from app.assets.schemas import CapabilityKey, EvidenceLink, EvidenceLinks
from app.fields import IsoDate, Text200, Text2000
from app.vocabulary import ActivityStatus, ActivityType, Area

# The most records one activity or plan item links, of each kind: by id and by externalId
# together, in an import as through the endpoints.
MAX_LINKS = 100

AssetIds = Annotated[
    list[uuid.UUID],
    Field(
        max_length=MAX_LINKS,
        description="Assets the activity uses: its organisation's own, or those of an "
        "organisation above it. Repeats are ignored.",
    ),
]
Goal = Text2000

_EXAMPLE: dict[str, JsonValue] = {
    "area": "improvement",
    "capabilityKey": "frontline-improvement-support",
    "title": "Reducing falls on elderly care wards",
    "activityType": "improvement_project",
    "status": "active",
    "startDate": "2024-04-01",
    "endDate": "2025-03-31",
    "assetIds": [],
    "goal": "Cut inpatient falls with harm by 20% in a year",
}


class ActivityCreate(ApiInput):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    area: Area
    capability_key: CapabilityKey | None = None
    title: Text200
    activity_type: ActivityType
    status: ActivityStatus = ActivityStatus.PLANNED
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    asset_ids: AssetIds = []
    goal: Goal | None = None
    outcome: Goal | None = Field(
        default=None,
        description="What the work achieved. Without an outcome or evidence, an activity counts "
        "at most 'developing' (model 2026.1).",
    )
    evidence: EvidenceLinks = []

    @field_validator("end_date")
    @classmethod
    def _not_before_start(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start_date")
        if start is not None and end is not None and end < start:
            raise ValueError("endDate must not be before startDate")
        return end


class ActivityUpdate(ApiPatch):
    """Fields to change; absent fields are kept, ``null`` clears an optional field."""

    not_null = frozenset({"area", "title", "activity_type", "status", "asset_ids", "evidence"})

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "completed", "outcome": "Falls down 24%"}]}
    )

    area: Area | None = None
    capability_key: CapabilityKey | None = None
    title: Text200 | None = None
    activity_type: ActivityType | None = None
    status: ActivityStatus | None = None
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    asset_ids: AssetIds | None = None
    goal: Goal | None = None
    outcome: Goal | None = None
    evidence: EvidenceLinks | None = None


class ActivityFilters(ApiQuery):
    area: Area | None = None
    status: ActivityStatus | None = None
    activity_type: ActivityType | None = None


class ActivityPublic(ApiModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    area: Area
    capability_key: str | None
    title: str
    activity_type: ActivityType
    status: ActivityStatus
    start_date: date | None
    end_date: date | None
    asset_ids: list[uuid.UUID]
    goal: str | None
    outcome: str | None
    evidence: list[EvidenceLink] = []
    external_id: str | None = Field(
        default=None,
        description="The key a spreadsheet import gave it (unique within the "
        "organisation); set by the import endpoints.",
    )
    created_at: datetime
    updated_at: datetime
    version: int


class ActivityPage(Page[ActivityPublic]):
    """A page of activities, oldest first."""
