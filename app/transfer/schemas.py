"""The import contract: a row is what the create endpoint takes, plus the keys that make a
re-import update instead of duplicating. What an import did, or would do."""

import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, JsonValue

from app.activities.schemas import ActivityCreate
from app.api import ApiModel
from app.assets.schemas import AssetCreate
from app.fields import Text100
from app.organisations.schemas import OdsCode, OrganisationCreate
from app.plans.schemas import PlanItemCreate

ExternalId = Annotated[
    Text100,
    Field(
        description="Your key for the row, unique within its organisation: importing a row "
        "with the same key again updates the record it made.",
        examples=["DATA-001"],
    ),
]
RowId = Annotated[
    uuid.UUID | None,
    Field(description="The id of a record to update (as exported); blank to create."),
]
RowOrganisation = Annotated[
    uuid.UUID | None,
    Field(
        description="The organisation the row belongs to: the one imported into (default) or "
        "one below it."
    ),
]
RowOrganisationOdsCode = Annotated[
    OdsCode | None,
    Field(
        description="The row's organisation by its ODS code, instead of organisationId (or "
        "beside it: then both must name the same organisation): the one imported into or one "
        "below it. How a system's sheet names its members."
    ),
]

ASSET_EXAMPLE: dict[str, JsonValue] = {
    "externalId": "DATA-001",
    "area": "data",
    "capabilityKey": "data-platform",
    "name": "Shared care record and analytics platform",
    "maturity": 3,
    "confidence": "evidenced",
    "evidence": [{"title": "Platform assurance", "url": "https://example.nhs.uk/platform.pdf"}],
    "tags": ["shared-care-record", "analytics"],
    "sharedWithMembers": True,
}
ACTIVITY_EXAMPLE: dict[str, JsonValue] = {
    "externalId": "QI-007",
    "area": "improvement",
    "title": "Reducing falls on elderly care wards",
    "activityType": "improvement_project",
    "status": "active",
    "startDate": "2026-04-01",
    "assetExternalIds": ["DATA-001"],
}


class AssetImportRow(AssetCreate):
    """An asset to create, or to update when its id or externalId is known."""

    model_config = ConfigDict(json_schema_extra={"examples": [ASSET_EXAMPLE]})

    id: RowId = None
    external_id: ExternalId | None = None
    organisation_id: RowOrganisation = None
    organisation_ods_code: RowOrganisationOdsCode = None


class ActivityImportRow(ActivityCreate):
    """An activity to create, or to update when its id or externalId is known."""

    model_config = ConfigDict(json_schema_extra={"examples": [ACTIVITY_EXAMPLE]})

    id: RowId = None
    external_id: ExternalId | None = None
    organisation_id: RowOrganisation = None
    organisation_ods_code: RowOrganisationOdsCode = None
    asset_external_ids: list[ExternalId] = Field(
        default=[],
        max_length=100,
        description="externalIds of assets of the row's own organisation that it uses.",
    )


PLAN_ITEM_EXAMPLE: dict[str, JsonValue] = {
    "externalId": "PLAN-001",
    "capabilityKey": "learning-culture",
    "title": "Run a learning week for every directorate",
    "owner": "Director of Quality Improvement",
    "dueDate": "2027-03-31",
    "status": "planned",
    "rag": "amber",
}


class PlanItemImportRow(PlanItemCreate):
    """A plan item to create, or to update when its id or externalId is known."""

    model_config = ConfigDict(json_schema_extra={"examples": [PLAN_ITEM_EXAMPLE]})

    id: RowId = None
    organisation_id: RowOrganisation = None
    organisation_ods_code: RowOrganisationOdsCode = None
    asset_external_ids: list[ExternalId] = Field(
        default=[],
        max_length=100,
        description="externalIds of assets of the row's own organisation it will create or "
        "improve.",
    )
    activity_external_ids: list[ExternalId] = Field(
        default=[],
        max_length=100,
        description="externalIds of activities of the row's own organisation it will start or "
        "improve.",
    )


ORGANISATION_EXAMPLE: dict[str, JsonValue] = {
    "odsCode": "RWY",
    "name": "Calderdale and Huddersfield NHS Foundation Trust",
    "organisationType": "acute_trust",
    "region": "North East and Yorkshire",
    "nextReviewDue": "2027-04-01",
}


class OrganisationImportRow(OrganisationCreate):
    """An organisation below the one imported into: created, or updated when its ODS code (or
    id) is one of theirs. Its parent is named by ODS code (blank: the organisation imported
    into), which may be an organisation made by an earlier row of the same file."""

    model_config = ConfigDict(json_schema_extra={"examples": [ORGANISATION_EXAMPLE]})

    id: RowId = None


class RowAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


class ImportRowResult(ApiModel):
    """What one row did, or (in a dry run) would do."""

    row: int = Field(
        ge=1,
        description="The row as a person counts it in the file: in a CSV or a workbook the "
        "header is row 1, so the first record is row 2; in a JSON array the first element is "
        "row 1.",
    )
    action: RowAction
    id: uuid.UUID | None = Field(
        default=None, description="The record the row made or matched (none in a dry run's create)."
    )
    external_id: str | None = None


class ImportResult(ApiModel):
    """What the import did (or, for a dry run, would do). Nothing is written unless every
    row is valid."""

    dry_run: bool
    rows: int = Field(description="Rows read (blank rows are skipped).")
    created: int
    updated: int = Field(description="Rows that matched a record and changed it.")
    unchanged: int = Field(description="Rows that matched a record and left it as it was.")
    results: list[ImportRowResult] = Field(
        default=[],
        description="Row by row, in the file's order, what each row did or would do: the "
        "first 1,000 rows (the counts above cover every row; moreResults says how many are "
        "not listed).",
    )
    more_results: int = Field(
        default=0, ge=0, description="Rows past the first 1,000 that results does not list."
    )
