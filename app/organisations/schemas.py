"""The organisation contract."""

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field, JsonValue

from app.api import ApiInput, ApiModel, ApiPatch, ApiQuery, Page
from app.fields import IsoDate, QueryText, Text100, Text200
from app.vocabulary import OrganisationType


def _upper(value: object) -> object:
    # Only ASCII is folded: "ß".upper() is "SS", which would slip past the pattern.
    if isinstance(value, str) and value.isascii():
        return value.strip().upper()
    return value


OdsCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9]{1,9}$",
        description="NHS ODS code: 1-9 letters and digits, stored upper case. Unique.",
        examples=["RR8"],
    ),
    BeforeValidator(
        _upper
    ),  # after Field in this list: it runs first, and the schema keeps the pattern
]
ParentOdsCode = Annotated[
    OdsCode,
    Field(
        description="The parent by its ODS code, instead of parentId (or beside it: then both "
        "must name the same organisation).",
        examples=["QWO"],
    ),
]
Name = Text200
OfficialName = Annotated[
    Text200,
    Field(
        description="As the organisation's register (ODS) spells it, when that is not name: "
        "lhs-map import-ods shows ODS's capitals in a readable case and keeps them here.",
        examples=["LEEDS TEACHING HOSPITALS NHS TRUST"],
    ),
]
Region = Text100
BenchmarkOptOut = Annotated[
    bool,
    Field(
        description="Not counted in other organisations' benchmarks (its own benchmark still "
        "works). Set by the organisation's admins."
    ),
]
NextReviewDue = Annotated[
    IsoDate,
    Field(
        description="When the organisation next reviews its map and action plan, YYYY-MM-DD.",
        examples=["2027-04-01"],
    ),
]

_EXAMPLE: dict[str, JsonValue] = {
    "name": "Leeds Teaching Hospitals NHS Trust",
    "odsCode": "RR8",
    "organisationType": "trust",
    "parentId": "5b0e3c1e-8f4e-4d8a-9f65-0c1d2e3f4a5b",
    "region": "North East and Yorkshire",
}


class OrganisationCreate(ApiInput):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    name: Name
    official_name: OfficialName | None = None
    ods_code: OdsCode | None = None
    organisation_type: OrganisationType
    parent_id: uuid.UUID | None = Field(
        default=None, description="The ICS, network or other organisation this one belongs to."
    )
    parent_ods_code: ParentOdsCode | None = None
    region: Region | None = None
    next_review_due: NextReviewDue | None = None
    benchmark_opt_out: BenchmarkOptOut = False


class OrganisationUpdate(ApiPatch):
    """Fields to change; absent fields are kept, ``null`` clears an optional field."""

    not_null = frozenset({"name", "organisation_type", "parent_ods_code", "benchmark_opt_out"})

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Leeds Teaching Hospitals", "region": None}]}
    )

    name: Name | None = None
    official_name: OfficialName | None = None
    ods_code: OdsCode | None = None
    organisation_type: OrganisationType | None = None
    parent_id: uuid.UUID | None = Field(
        default=None, description="The new parent; null makes it a top-level organisation."
    )
    parent_ods_code: ParentOdsCode | None = None
    region: Region | None = None
    next_review_due: NextReviewDue | None = None
    benchmark_opt_out: BenchmarkOptOut | None = None


class OrganisationFilters(ApiQuery):
    parent_id: uuid.UUID | None = None
    organisation_type: OrganisationType | None = None
    ods_code: Annotated[QueryText | None, Field(max_length=9)] = None
    q: Annotated[
        QueryText | None,
        Field(min_length=1, max_length=200, description="Name contains (any case)."),
    ] = None


class OrganisationPublic(ApiModel):
    id: uuid.UUID
    name: str
    official_name: str | None = None
    ods_code: str | None
    organisation_type: OrganisationType
    parent_id: uuid.UUID | None
    region: str | None
    next_review_due: date | None = None
    is_demo: bool = Field(
        default=False,
        description="Demo data, compared only with demo data. Set by the demo loader (and "
        "carried by a whole-map import); read-only here.",
    )
    benchmark_opt_out: BenchmarkOptOut = False
    created_at: datetime
    updated_at: datetime
    version: int


class OrganisationPage(Page[OrganisationPublic]):
    """A page of organisations, oldest first."""
