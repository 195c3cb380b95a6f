"""The kinds of file an organisation imports, in one registry: a kind is its name in the URL
(``/imports/{kind}``), the rows' schema and the services' rules for them (``records``), the
spreadsheet's columns and an example row. Adding a kind is a member of ImportKind and its
entry in FILES; the routes, the template and the OpenAPI document follow from them."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, JsonValue

from app.auth.principal import Principal
from app.returns.rows import COLUMNS
from app.returns.schemas import (
    DMA_EXAMPLE,
    NHS_IMPACT_EXAMPLE,
    DmaImportRow,
    NhsImpactImportRow,
)
from app.transfer.activity_rows import Activities
from app.transfer.columns import (
    ACTIVITY_COLUMNS,
    ASSET_COLUMNS,
    PLAN_ITEM_COLUMNS,
    Column,
    to_row,
    to_snake,
)
from app.transfer.csvio import encode_rows
from app.transfer.kinds import Assets, Kind
from app.transfer.plan_item_rows import PlanItems
from app.transfer.schemas import (
    ACTIVITY_EXAMPLE,
    ASSET_EXAMPLE,
    PLAN_ITEM_EXAMPLE,
    ActivityImportRow,
    AssetImportRow,
    PlanItemImportRow,
)
from app.vocabulary import ReturnFramework


class ImportKind(StrEnum):
    ASSETS = "assets"
    ACTIVITIES = "activities"
    PLAN_ITEMS = "plan_items"
    # Returns made to other frameworks: imported by app.returns (records of their own).
    DMA = "dma"
    NHS_IMPACT = "nhs-impact"


@dataclass(frozen=True)
class FileKind:
    records: Callable[[Principal], Kind] | None
    """None: the kind has an import service of its own (app.returns)."""
    row_model: type[BaseModel]
    columns: Mapping[str, Column]
    example: dict[str, JsonValue]
    """One row as a JSON import takes it (camelCase), also the template's example row."""

    @property
    def imported_columns(self) -> list[str]:
        return [name for name, column in self.columns.items() if column.imported]

    def template_csv(self) -> bytes:
        """The columns an import reads, then the example row: a sheet to fill in."""
        values = {to_snake(name): value for name, value in self.example.items()}
        imported = {name: self.columns[name] for name in self.imported_columns}
        return encode_rows([list(imported), to_row(imported, values)], first=True)

    def example_csv(self) -> str:
        """The example row under only the columns it fills (the OpenAPI document's example)."""
        filled = {name: self.columns[name] for name in self.example if name in self.columns}
        values = {to_snake(name): value for name, value in self.example.items()}
        lines = encode_rows([list(filled), to_row(filled, values)])
        return lines.decode("utf-8")


FILES: dict[ImportKind, FileKind] = {
    ImportKind.ASSETS: FileKind(Assets, AssetImportRow, ASSET_COLUMNS, ASSET_EXAMPLE),
    ImportKind.ACTIVITIES: FileKind(
        Activities, ActivityImportRow, ACTIVITY_COLUMNS, ACTIVITY_EXAMPLE
    ),
    ImportKind.PLAN_ITEMS: FileKind(
        PlanItems, PlanItemImportRow, PLAN_ITEM_COLUMNS, PLAN_ITEM_EXAMPLE
    ),
    ImportKind.DMA: FileKind(None, DmaImportRow, COLUMNS[ReturnFramework.DMA], DMA_EXAMPLE),
    ImportKind.NHS_IMPACT: FileKind(
        None, NhsImpactImportRow, COLUMNS[ReturnFramework.NHS_IMPACT], NHS_IMPACT_EXAMPLE
    ),
}
assert set(FILES) == set(ImportKind), "every kind of file has its entry"
