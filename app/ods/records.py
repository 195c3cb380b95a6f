"""Organisation Reference Data (ORD) records, in the JSON shape the ODS ORD API returns for
one organisation: ``{"Organisation": {"Name", "OrgId": {"extension"}, "Status", "Roles":
{"Role": [...]}, "Rels": {"Rel": [...]}, ...}}``. Only what an import uses is read; the rest of
a record (dates, addresses, successors) is ignored, so real ORD exports load as they are.
"""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_pascal

from app import json_input
from app.errors import FieldIssue, ValidationFailed

ACTIVE = "Active"

# Relationships that make the target a parent here, most telling first: a practice is a
# partner of its primary care network (RE8) and is commissioned by its sub-ICB location (RE4);
# a trust is located in the geography of its ICB (RE5). docs/fhir.md has the table.
PARENT_RELATIONSHIPS = ("RE8", "RE6", "RE4", "RE2", "RE5")


class OrdModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_pascal, extra="ignore", frozen=True)


class OrgId(OrdModel):
    extension: str = Field(alias="extension", pattern=r"^[A-Za-z0-9]{1,9}$")


class Role(OrdModel):
    id: str = Field(alias="id", pattern=r"^RO\d+$")
    primary_role: bool = Field(default=False, alias="primaryRole")
    status: str = ACTIVE


class Roles(OrdModel):
    role: list[Role] = Field(min_length=1)


class Target(OrdModel):
    org_id: OrgId


class Rel(OrdModel):
    id: str = Field(alias="id", pattern=r"^RE\d+$")
    status: str = ACTIVE
    target: Target


class Rels(OrdModel):
    rel: list[Rel] = []


class OrdOrganisation(OrdModel):
    name: str = Field(min_length=1)
    org_id: OrgId
    status: Literal["Active", "Inactive"]
    roles: Roles
    rels: Rels = Rels()

    @property
    def ods_code(self) -> str:
        return self.org_id.extension.upper()

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def role_codes(self) -> set[str]:
        return {role.id for role in self.roles.role if role.status == ACTIVE}

    def parent_codes(self) -> list[str]:
        """Targets of active relationships that can make a parent, most telling first."""
        ranked = sorted(
            (PARENT_RELATIONSHIPS.index(rel.id), rel.target.org_id.extension.upper())
            for rel in self.rels.rel
            if rel.status == ACTIVE and rel.id in PARENT_RELATIONSHIPS
        )
        return [code for _, code in ranked]


class OrdRecord(OrdModel):
    organisation: OrdOrganisation


_RECORDS = TypeAdapter(list[OrdRecord])


def parse(data: object) -> list[OrdOrganisation]:
    """A list of records (or one record) as decoded JSON; a malformed one is a 422 naming it
    by its position and the path inside it."""
    if isinstance(data, dict):
        data = [data]
    try:
        records = _RECORDS.validate_python(data)
    except ValidationError as exc:
        raise ValidationFailed(
            "These are not Organisation Reference Data records (ORD JSON).",
            errors=[_issue(error["loc"], error["msg"]) for error in exc.errors()],
        ) from exc
    organisations = [record.organisation for record in records]
    seen: dict[str, int] = {}
    issues = []
    for index, organisation in enumerate(organisations):
        first = seen.setdefault(organisation.ods_code, index)
        if first != index:
            issues.append(
                _issue(
                    (index, "Organisation", "OrgId", "extension"),
                    f"ODS code {organisation.ods_code} is also record {first + 1}'s.",
                )
            )
    if issues:
        raise ValidationFailed("The records name an ODS code twice.", errors=issues)
    return organisations


def _issue(location: Sequence[int | str], message: str) -> FieldIssue:
    """The message names the place too (record 3, Organisation.OrgId), for a reader with no
    JSON pointer at hand: the command line prints messages only."""
    if not location:
        return FieldIssue("records", f"the file: {message}")
    index, *inside = location
    # Counted from 1 in the message, as a person counts; the pointer stays a JSON index.
    number = index + 1 if isinstance(index, int) else index
    place = f"record {number}" + (f" {'.'.join(map(str, inside))}" if inside else "")
    return FieldIssue(tuple(location), f"{place}: {message}")


def read_file(path: Path, *, max_bytes: int) -> Any:
    """The decoded JSON of an ORD file (UTF-8, with or without a byte-order mark), refused past
    ``max_bytes`` or app.json_input's depth before it is parsed."""
    try:
        return json_input.loads(
            json_input.read_file(path, max_bytes=max_bytes), max_bytes=max_bytes
        )
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"{path} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from exc
    except ValueError as exc:  # not UTF-8, or a number Python will not convert
        raise ValidationFailed(f"{path} is not UTF-8 JSON: {exc}.") from exc
