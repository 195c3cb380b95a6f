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
    part_of: FhirReference | None = None

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()
