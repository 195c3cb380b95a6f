"""The asset contract: what an organisation has, in one of the four areas."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from app.api import ApiInput, ApiModel, ApiPatch, ApiQuery, Page
from app.fields import (
    Flag,
    QueryText,
    Text200,
    Text4000,
    Url,
    UtcDatetime,
    whole_number,
)
from app.vocabulary import Area, Confidence, Maturity

CapabilityKey = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        max_length=64,
        description="Key of a capability in the current reference model, e.g. data-platform.",
        examples=["data-platform"],
    ),
]
Tag = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", description="Folded to lower case."),
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
]


def _unique(tags: list[str]) -> list[str]:
    return sorted(set(tags))


Tags = Annotated[
    list[Tag],
    Field(max_length=20, description="Lower-case labels; duplicates are merged."),
    AfterValidator(_unique),
]
MaturityField = Annotated[
    Maturity,
    Field(description="0 absent, 1 planned, 2 developing, 3 established, 4 embedded."),
]
# The bounds sit on the int itself, before the lenient parser, so the published schema says
# minimum/maximum (on a wrapped type pydantic publishes ge/le, which validators ignore).
MaturityInput = Annotated[
    int,
    Field(ge=0, le=4, description="0 absent, 1 planned, 2 developing, 3 established, 4 embedded."),
    BeforeValidator(whole_number),
]


class EvidenceLinkInput(ApiInput):
    title: Text200
    url: Url


class EvidenceLink(ApiModel):
    title: str
    url: str


EvidenceLinks = Annotated[
    list[EvidenceLinkInput],
    Field(max_length=20, description="Links to what shows the claim: reports, audits, minutes."),
]


def stored_links(links: Sequence[EvidenceLinkInput]) -> list[dict[str, str]]:
    return [{"title": link.title, "url": str(link.url)} for link in links]


def proof_issues(
    confidence: Confidence, evidence: Sequence[object], reviewed_by: object, reviewed_at: object
) -> dict[str, str]:
    """What a checked claim lacks, by field: 'evidenced' needs an evidence link, and
    'peer_reviewed' names who reviewed it and when."""
    issues = {}
    if confidence == Confidence.EVIDENCED and not evidence:
        issues["evidence"] = "confidence 'evidenced' needs at least one evidence link."
    if confidence == Confidence.PEER_REVIEWED:
        if reviewed_by is None:
            issues["reviewed_by"] = "confidence 'peer_reviewed' needs reviewedBy: who reviewed it."
        if reviewed_at is None:
            issues["reviewed_at"] = "confidence 'peer_reviewed' needs reviewedAt: when."
    return issues


_EXAMPLE: dict[str, JsonValue] = {
    "area": "data",
    "capabilityKey": "data-platform",
    "name": "West Yorkshire shared care record and analytics platform",
    "description": "Linked primary, acute and community data refreshed daily.",
    "maturity": 3,
    "confidence": "peer_reviewed",
    "evidence": [{"title": "Platform DPIA", "url": "https://example.nhs.uk/dpia.pdf"}],
    "owner": "Chief Data Officer",
    "tags": ["shared-care-record"],
    "sharedWithMembers": True,
    "reviewedBy": "Bradford Teaching Hospitals data team",
    "reviewedAt": "2024-05-01T09:00:00Z",
}


class AssetCreate(ApiInput):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    area: Area
    capability_key: CapabilityKey | None = None
    name: Text200
    description: Text4000 | None = None
    maturity: MaturityInput
    confidence: Confidence = Field(
        default=Confidence.SELF_ASSESSED,
        description="evidenced needs an evidence link; peer_reviewed needs reviewedBy and "
        "reviewedAt.",
    )
    evidence: EvidenceLinks = []
    owner: Text200 | None = None
    tags: Tags = []
    shared_with_members: Flag = Field(
        default=False, description="The asset also serves this organisation's members."
    )
    reviewed_by: Text200 | None = Field(default=None, description="Who peer reviewed the claim.")
    reviewed_at: UtcDatetime | None = None


class AssetUpdate(ApiPatch):
    """Fields to change; absent fields are kept, ``null`` clears an optional field."""

    not_null = frozenset(
        {"area", "name", "maturity", "confidence", "evidence", "tags", "shared_with_members"}
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"maturity": 4, "confidence": "evidenced"}]}
    )

    area: Area | None = None
    capability_key: CapabilityKey | None = None
    name: Text200 | None = None
    description: Text4000 | None = None
    maturity: MaturityInput | None = None
    confidence: Confidence | None = None
    evidence: EvidenceLinks | None = None
    owner: Text200 | None = None
    tags: Tags | None = None
    shared_with_members: Flag | None = None
    reviewed_by: Text200 | None = None
    reviewed_at: UtcDatetime | None = None


class AssetFilters(ApiQuery):
    area: Area | None = None
    capability_key: Annotated[QueryText | None, Field(max_length=64)] = None
    # maxMaturity is declared first so that the rule below can name minMaturity, as callers
    # expect (a validator sees only the fields declared before its own).
    max_maturity: Annotated[int | None, Field(ge=0, le=4)] = None
    min_maturity: Annotated[int | None, Field(ge=0, le=4)] = None
    tag: Annotated[QueryText | None, Field(max_length=64)] = None

    @field_validator("min_maturity")
    @classmethod
    def _not_above_max(cls, value: int | None, info: ValidationInfo) -> int | None:
        high = info.data.get("max_maturity")
        if value is not None and high is not None and value > high:
            raise PydanticCustomError(
                "range", "Must not be greater than maxMaturity: nothing could match."
            )
        return value


class AssetPublic(ApiModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    area: Area
    capability_key: str | None
    name: str
    description: str | None
    maturity: MaturityField
    confidence: Confidence
    evidence: list[EvidenceLink]
    owner: str | None
    tags: list[str]
    shared_with_members: bool
    reviewed_by: str | None = None
    reviewed_at: datetime | None
    external_id: str | None = Field(
        default=None,
        description="The key a spreadsheet import gave it (unique within the "
        "organisation); set by the import endpoints.",
    )
    created_at: datetime
    updated_at: datetime
    version: int


class AssetPage(Page[AssetPublic]):
    """A page of assets, oldest first."""
