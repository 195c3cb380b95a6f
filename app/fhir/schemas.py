"""The parts of FHIR R4 that an Organization from this service uses, and only those: the
contract a client generator sees. Element names are FHIR's own (camelCase); absent elements are
left out of the JSON, never sent as null (FHIR forbids nulls)."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

FHIR_JSON = "application/fhir+json"


def _optional_not_null(schema: dict[str, Any]) -> None:
    """An absent element is left out, never null: say so to client generators."""
    for field in schema.get("properties", {}).values():
        options = field.get("anyOf", [])
        others = [option for option in options if option.get("type") != "null"]
        if len(options) == 2 and len(others) == 1:
            del field["anyOf"]
            field.pop("default", None)
            field.update(others[0])


class FhirElement(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        frozen=True,
        json_schema_extra=_optional_not_null,
    )


class FhirCoding(FhirElement):
    system: str
    code: str
    display: str


class FhirCodeableConcept(FhirElement):
    coding: list[FhirCoding]
    text: str


class FhirIdentifier(FhirElement):
    use: Literal["official"] | None = None
    system: str
    value: str


class FhirReference(FhirElement):
    reference: str = Field(description="The parent's Organization at this service (absolute).")
    type: Literal["Organization"]
    identifier: FhirIdentifier | None = Field(
        default=None, description="The parent's ODS code, when it has one."
    )
    display: str | None = Field(default=None, description="The parent's name.")


class FhirMeta(FhirElement):
    version_id: str = Field(description="The record's version, as in its ETag.")
    last_updated: datetime


class FhirOrganization(FhirElement):
    """A FHIR R4 Organization (UK Core shape): ODS code, type, parent (partOf), name."""

    resource_type: Literal["Organization"]
    id: str
    meta: FhirMeta
    identifier: list[FhirIdentifier] | None = Field(
        default=None,
        description="The ODS code (system https://fhir.nhs.uk/Id/ods-organization-code).",
    )
    active: bool
    type: list[FhirCodeableConcept]
    name: str
    alias: list[str] | None = Field(
        default=None, description="The official name (ODS's spelling), when it is not name."
    )
    part_of: FhirReference | None = None

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


# -- the FHIR base: OperationOutcome, Bundle, CapabilityStatement ---------------------------


class FhirExtension(FhirElement):
    url: str
    value_string: str


class FhirIssueDetails(FhirElement):
    coding: list[FhirCoding]
    text: str


class FhirIssue(FhirElement):
    severity: Literal["fatal", "error", "warning", "information"]
    code: str = Field(description="From FHIR's IssueType value set (not-found, invalid...).")
    details: FhirIssueDetails | None = Field(
        default=None, description="Our problem code (as in problem+json's `code`) and title."
    )
    diagnostics: str | None = Field(
        default=None, description="The problem's detail, or the field at fault and why."
    )


class FhirOperationOutcome(FhirElement):
    """Every error under /v1/fhir: a FHIR OperationOutcome instead of problem+json."""

    resource_type: Literal["OperationOutcome"]
    extension: list[FhirExtension] | None = Field(
        default=None, description="The request ID (X-Request-ID), to quote when reporting."
    )
    issue: list[FhirIssue]

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


class FhirBundleLink(FhirElement):
    relation: Literal["self", "next"]
    url: str


class FhirBundleSearch(FhirElement):
    mode: Literal["match", "outcome"]


class FhirBundleEntry(FhirElement):
    full_url: str | None = None
    resource: FhirOrganization | FhirOperationOutcome
    search: FhirBundleSearch


class FhirBundle(FhirElement):
    """A searchset: the matches the caller may read, a page at a time (link next)."""

    resource_type: Literal["Bundle"]
    type: Literal["searchset"]
    total: int = Field(description="Every match the caller may read, on all pages.")
    link: list[FhirBundleLink]
    entry: list[FhirBundleEntry] | None = None

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


class FhirSearchParam(FhirElement):
    name: str
    definition: str | None = None
    type: Literal["token", "number", "string"]
    documentation: str


class FhirInteraction(FhirElement):
    code: Literal["read", "search-type"]


class FhirRestResource(FhirElement):
    type: Literal["Organization"]
    interaction: list[FhirInteraction]
    search_param: list[FhirSearchParam]
    read_history: bool
    update_create: bool
    conditional_read: Literal["not-supported"]
    versioning: Literal["versioned"]


class FhirRest(FhirElement):
    mode: Literal["server"]
    documentation: str
    resource: list[FhirRestResource]


class FhirSoftware(FhirElement):
    name: str
    version: str


class FhirImplementation(FhirElement):
    description: str
    url: str


class FhirCapabilityStatement(FhirElement):
    """What this FHIR base serves: FHIR 4.0.1, JSON, Organization read and search."""

    resource_type: Literal["CapabilityStatement"]
    status: Literal["active"]
    date: str
    publisher: str
    kind: Literal["instance"]
    software: FhirSoftware
    implementation: FhirImplementation
    fhir_version: Literal["4.0.1"]
    format: list[str]
    rest: list[FhirRest]

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()
