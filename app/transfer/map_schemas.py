"""The whole-map document: an organisation and everything below it, with their assets,
activities and assessments, exactly as stored (ids, timestamps and versions included), so that
another instance can hold the same map."""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel

from app.api import ApiModel
from app.assets.schemas import CapabilityKey, EvidenceLink, Tags
from app.fields import Text100, Text200, Text2000, Text4000
from app.organisations.schemas import OdsCode
from app.vocabulary import (
    ActivityStatus,
    ActivityType,
    Area,
    Confidence,
    OrganisationType,
    Rag,
    Scope,
)

FORMAT: Literal["lhs-map"] = "lhs-map"
FORMAT_VERSION: Literal[1] = 1


class MapPart(BaseModel):
    """Read and written as is: camelCase, and an unknown field is refused (a document from a
    later format must not lose data quietly)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        from_attributes=True,
        extra="forbid",
    )


class Stamped(MapPart):
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int = Field(ge=1)


# Every text within the bounds its endpoint keeps (which every stored record meets): a document
# edited by hand cannot store what the API would refuse, nor fail on a column too short.


class MapOrganisation(Stamped):
    name: Text200
    # Absent from documents written before organisations had it.
    official_name: Text200 | None = None
    ods_code: OdsCode | None
    organisation_type: OrganisationType
    parent_id: uuid.UUID | None = Field(
        description="The root's parent (null when the caller cannot see it) is kept on import "
        "when that organisation exists there."
    )
    region: Text100 | None
    next_review_due: date | None = None
    # Absent in maps written before benchmarks: real data, counted.
    is_demo: bool = False
    benchmark_opt_out: bool = False


class MapAsset(Stamped):
    organisation_id: uuid.UUID
    external_id: Text100 | None
    area: Area
    capability_key: CapabilityKey | None
    name: Text200
    description: Text4000 | None
    maturity: int = Field(ge=0, le=4)
    confidence: Confidence
    evidence: list[EvidenceLink]
    owner: Text200 | None
    tags: Tags
    shared_with_members: bool
    reviewed_by: Text200 | None
    reviewed_at: datetime | None


class MapActivity(Stamped):
    organisation_id: uuid.UUID
    external_id: Text100 | None
    area: Area
    capability_key: CapabilityKey | None
    title: Text200
    activity_type: ActivityType
    status: ActivityStatus
    start_date: date | None
    end_date: date | None
    asset_ids: list[uuid.UUID]
    goal: Text2000 | None
    outcome: Text2000 | None
    evidence: list[EvidenceLink]


class MapPlanItem(Stamped):
    organisation_id: uuid.UUID
    external_id: Text100 | None
    capability_key: CapabilityKey
    title: Text200
    owner: Text200 | None
    due_date: date | None
    status: ActivityStatus
    rag: Rag
    notes: Text4000 | None
    asset_ids: list[uuid.UUID]
    activity_ids: list[uuid.UUID]


class MapAssessment(MapPart):
    id: uuid.UUID
    organisation_id: uuid.UUID
    reference_model_version: str
    scope: Scope
    overall_score: float
    label: str | None
    result: dict[str, JsonValue] = Field(description="The stored analysis, as it was.")
    seen_from: uuid.UUID | None = Field(
        description="Where the analysis looked from (who may read it depends on it)."
    )
    created_at: datetime


class MapReferenceModel(MapPart):
    """A model an assessment is pinned to that is not one the service ships. On import the
    document is the model (checked as PUT /v1/reference-models/{version} checks its body, and
    loaded only by an admin); the other fields are the source's bookkeeping, set anew here."""

    version: str
    title: str
    based_on: str | None
    document: dict[str, JsonValue]
    created_at: datetime
    updated_at: datetime
    row_version: int


class MapDocument(MapPart):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "format": FORMAT,
                    "formatVersion": FORMAT_VERSION,
                    "exportedAt": "2026-11-27T09:00:00Z",
                    "rootId": "0b9e4a3c-3f55-4a8e-9d1c-6f2b7c1d2e3f",
                    "organisations": [
                        {
                            "id": "0b9e4a3c-3f55-4a8e-9d1c-6f2b7c1d2e3f",
                            "name": "West Yorkshire ICS",
                            "odsCode": "QWO",
                            "organisationType": "ics",
                            "parentId": None,
                            "region": None,
                            "createdAt": "2026-11-20T10:00:00Z",
                            "updatedAt": "2026-11-20T10:00:00Z",
                            "version": 1,
                        }
                    ],
                    "assets": [],
                    "activities": [],
                    "assessments": [],
                    "referenceModels": [],
                }
            ]
        }
    )

    format: Literal["lhs-map"] = FORMAT
    # A bounded integer, not Literal[1]: a generated client renders an integer "const" as
    # "!= 1and", which Python warns about (SyntaxWarning) when it compiles the client.
    format_version: int = Field(
        default=FORMAT_VERSION,
        ge=FORMAT_VERSION,
        le=FORMAT_VERSION,
        description="Raised when the shape changes incompatibly; this service reads 1.",
    )
    exported_at: datetime
    root_id: uuid.UUID
    organisations: list[MapOrganisation] = Field(description="Each parent before its members.")
    assets: list[MapAsset]
    activities: list[MapActivity]
    plan_items: list[MapPlanItem] = Field(
        default=[], description="Action plan items (absent from documents made before 2.1.0)."
    )
    assessments: list[MapAssessment]
    reference_models: list[MapReferenceModel]


class MapImportResult(ApiModel):
    root_id: uuid.UUID
    parent_id: uuid.UUID | None = Field(
        description="Where the root now hangs: its old parent if that exists here, else null."
    )
    organisations: int
    assets: int
    activities: int
    plan_items: int
    assessments: int
    reference_models: int = Field(description="Reference models added (pinned by assessments).")
    id_map: dict[uuid.UUID, uuid.UUID] = Field(
        description="Each record's id in the document -> its id here (the same with keepIds)."
    )
