"""The kinds of file an organisation imports, in one registry: a kind is its name in the URL
(``/imports/{kind}``), the rows' schema and the services' rules for them (``records``), the
spreadsheet's columns and an example row. Adding a kind is a member of ImportKind and its
entry in FILES; the routes, the template and the OpenAPI document follow from them."""

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, get_args

from pydantic import BaseModel, JsonValue

from app.auth.principal import Principal
from app.returns.rows import CHOICES, COLUMNS
from app.returns.schemas import (
    DMA_EXAMPLE,
    NHS_IMPACT_EXAMPLE,
    DmaImportRow,
    NhsImpactImportRow,
)
from app.transfer import kinds, workbook
from app.transfer.activity_rows import Activities
from app.transfer.columns import (
    ACTIVITY_COLUMNS,
    ASSET_COLUMNS,
    ORGANISATION_COLUMNS,
    PLAN_ITEM_COLUMNS,
    Column,
    Kind,
    to_row,
    to_snake,
)
from app.transfer.csvio import encode_rows
from app.transfer.kinds import Assets
from app.transfer.organisation_rows import Organisations
from app.transfer.plan_item_rows import PlanItems
from app.transfer.schemas import (
    ACTIVITY_EXAMPLE,
    ASSET_EXAMPLE,
    ORGANISATION_EXAMPLE,
    PLAN_ITEM_EXAMPLE,
    ActivityImportRow,
    AssetImportRow,
    OrganisationImportRow,
    PlanItemImportRow,
)
from app.vocabulary import ReturnFramework


class ImportKind(StrEnum):
    ASSETS = "assets"
    ACTIVITIES = "activities"
    PLAN_ITEMS = "plan_items"
    ORGANISATIONS = "organisations"
    # Returns made to other frameworks: imported by app.returns (records of their own).
    DMA = "dma"
    NHS_IMPACT = "nhs-impact"


@dataclass(frozen=True)
class FileKind:
    records: Callable[[Principal], kinds.Kind] | None
    """None: the kind has an import service of its own (app.returns)."""
    row_model: type[BaseModel]
    columns: Mapping[str, Column]
    example: dict[str, JsonValue]
    """One row as a JSON import takes it (camelCase), also the template's example row."""
    choices: Mapping[str, list[str]] = dataclasses.field(default_factory=dict)
    """Allowed values of columns the row schema types as text (a return's headings)."""

    @property
    def imported_columns(self) -> list[str]:
        return [name for name, column in self.columns.items() if column.imported]

    @functools.cached_property
    def allowed(self) -> dict[str, list[str]]:
        """The values an enumerated column takes (by column name), read from the row schema:
        the template's drop-downs and the columns' descriptions say them."""
        found: dict[str, list[str]] = dict(self.choices)
        for name, column in self.columns.items():
            info = self.row_model.model_fields.get(to_snake(name))
            if column.kind is Kind.FLAG:
                found[name] = ["true", "false"]
            elif info is not None and (values := _enum_values(info.annotation)):
                found[name] = values
        return found

    def described(self, name: str) -> str:
        """A column's meaning, with its allowed values when it has a list of them."""
        meaning = self.columns[name].meaning
        if name in self.allowed:
            meaning += " One of: " + ", ".join(self.allowed[name]) + "."
        return meaning

    def template_csv(self) -> bytes:
        """The columns an import reads, then the example row: a sheet to fill in."""
        values = {to_snake(name): value for name, value in self.example.items()}
        imported = {name: self.columns[name] for name in self.imported_columns}
        return encode_rows([list(imported), to_row(imported, values)], first=True)

    def template_xlsx(self, sheet_name: str) -> bytes:
        """The same sheet as an Excel workbook, with drop-downs and a Notes sheet."""
        imported = {name: self.columns[name] for name in self.imported_columns}
        described = {name: self.described(name) for name in imported}
        return workbook.template(sheet_name, imported, self.example, self.allowed, described)

    def example_csv(self) -> str:
        """The example row under only the columns it fills (the OpenAPI document's example)."""
        filled = {name: self.columns[name] for name in self.example if name in self.columns}
        values = {to_snake(name): value for name, value in self.example.items()}
        lines = encode_rows([list(filled), to_row(filled, values)])
        return lines.decode("utf-8")


def _enum_values(annotation: Any) -> list[str]:
    """The values of the enumeration an annotation holds (through Optional and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    for argument in get_args(annotation):
        if values := _enum_values(argument):
            return values
    return []


FILES: dict[ImportKind, FileKind] = {
    ImportKind.ASSETS: FileKind(Assets, AssetImportRow, ASSET_COLUMNS, ASSET_EXAMPLE),
    ImportKind.ACTIVITIES: FileKind(
        Activities, ActivityImportRow, ACTIVITY_COLUMNS, ACTIVITY_EXAMPLE
    ),
    ImportKind.PLAN_ITEMS: FileKind(
        PlanItems, PlanItemImportRow, PLAN_ITEM_COLUMNS, PLAN_ITEM_EXAMPLE
    ),
    ImportKind.ORGANISATIONS: FileKind(
        Organisations, OrganisationImportRow, ORGANISATION_COLUMNS, ORGANISATION_EXAMPLE
    ),
    ImportKind.DMA: FileKind(
        None,
        DmaImportRow,
        COLUMNS[ReturnFramework.DMA],
        DMA_EXAMPLE,
        choices=CHOICES[ReturnFramework.DMA],
    ),
    ImportKind.NHS_IMPACT: FileKind(
        None,
        NhsImpactImportRow,
        COLUMNS[ReturnFramework.NHS_IMPACT],
        NHS_IMPACT_EXAMPLE,
        choices=CHOICES[ReturnFramework.NHS_IMPACT],
    ),
}
assert set(FILES) == set(ImportKind), "every kind of file has its entry"
