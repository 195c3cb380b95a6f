"""The plan item contract: what an organisation will do about a capability, with who owns it,
by when, and how delivery is going."""

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import ConfigDict, Field, JsonValue

from app.activities.schemas import MAX_LINKS
from app.api import ApiInput, ApiModel, ApiPatch, ApiQuery, Page
from app.assets.schemas import CapabilityKey
from app.fields import IsoDate, QueryText, Text100, Text200, Text4000
from app.vocabulary import ActivityStatus, Rag

PlanCapabilityKey = Annotated[
    CapabilityKey,
    Field(
        description="The capability the item acts on: one of the current default reference "
        "model that applies to the organisation's type. A later model that drops or renames "
        "it leaves the item as it is."
    ),
]
Owner = Annotated[
    Text200,
    Field(description="Who owns the item: a name or role; no other personal data."),
]
DueDate = Annotated[IsoDate, Field(description="When it is due, YYYY-MM-DD.")]
PlanStatus = Annotated[
    ActivityStatus,
    Field(
        description="Where the item stands. completed records the work as done; it never "
        "makes a capability met by itself (the gap analysis credits assets and activities)."
    ),
]
RagRating = Annotated[
    Rag, Field(description="Its owner's red/amber/green judgement of delivery, beside status.")
]
PlanAssetIds = Annotated[
    list[uuid.UUID],
    Field(
        max_length=MAX_LINKS,
        description="Assets the item will create or improve: its organisation's own, or those "
        "of an organisation above it. Repeats are ignored.",
    ),
]
PlanActivityIds = Annotated[
    list[uuid.UUID],
    Field(
        max_length=MAX_LINKS,
        description="Activities the item will start or improve: its organisation's own, or "
        "those of an organisation above it. Repeats are ignored.",
    ),
]
PlanExternalId = Annotated[
    Text100,
    Field(
        description="Your key for the item, unique within the organisation: importing a row "
        "with the same key updates it.",
        examples=["PLAN-001"],
    ),
]

_EXAMPLE: dict[str, JsonValue] = {
    "capabilityKey": "data-platform",
    "title": "Commission a shared analytics platform",
    "owner": "Chief Digital Officer",
    "dueDate": "2027-03-31",
    "status": "planned",
    "rag": "amber",
    "notes": "Business case to the board in January",
    "assetIds": [],
    "activityIds": [],
}


class PlanItemCreate(ApiInput):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    capability_key: PlanCapabilityKey
    title: Text200
    owner: Owner | None = None
    due_date: DueDate | None = None
    status: PlanStatus = ActivityStatus.PLANNED
    rag: RagRating = Rag.GREEN
    notes: Text4000 | None = None
    asset_ids: PlanAssetIds = []
    activity_ids: PlanActivityIds = []
    external_id: PlanExternalId | None = None


class PlanItemUpdate(ApiPatch):
    """Fields to change; absent fields are kept, ``null`` clears an optional field."""

    not_null = frozenset({"capability_key", "title", "status", "rag", "asset_ids", "activity_ids"})

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "active", "rag": "red"}]})

    capability_key: PlanCapabilityKey | None = None
    title: Text200 | None = None
    owner: Owner | None = None
    due_date: DueDate | None = None
    status: PlanStatus | None = None
    rag: RagRating | None = None
    notes: Text4000 | None = None
    asset_ids: PlanAssetIds | None = None
    activity_ids: PlanActivityIds | None = None
    external_id: PlanExternalId | None = None


class PlanItemFilters(ApiQuery):
    capability_key: Annotated[QueryText | None, Field(max_length=64)] = None
    status: ActivityStatus | None = None
    rag: Rag | None = None
    overdue: bool | None = Field(
        default=None,
        description="true: only items due before today and still planned or active; false: "
        "only the others.",
    )


class PlanItemPublic(ApiModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    capability_key: str
    title: str
    owner: str | None
    due_date: date | None
    status: ActivityStatus
    rag: Rag
    notes: str | None
    asset_ids: list[uuid.UUID]
    activity_ids: list[uuid.UUID]
    external_id: str | None = None
    overdue: bool = Field(
        description="Due before today (UTC) and still planned or active. Computed when read."
    )
    created_at: datetime
    updated_at: datetime
    version: int


class PlanItemPage(Page[PlanItemPublic]):
    """A page of plan items, oldest first."""
