"""The spreadsheet columns of assets and activities: the same for import and export, so an
export re-imports unchanged. Each column says how its cell turns into the JSON value the
import schema validates (and back)."""

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic.alias_generators import to_snake as _to_snake

from app.transfer import cells


class Kind(StrEnum):
    TEXT = "text"
    WHOLE_NUMBER = "whole_number"
    FLAG = "flag"
    LIST = "list"
    LINKS = "links"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    meaning: str
    imported: bool = True
    """False for a column an export writes for people reading the sheet (an organisation's
    name): an import accepts it, so an export re-imports unchanged, and ignores it."""


def _columns(*columns: Column) -> dict[str, Column]:
    return {column.name: column for column in columns}


_IDENTITY = (
    Column("id", Kind.TEXT, "The record's id: blank to create, or an id to update that record."),
    Column(
        "externalId",
        Kind.TEXT,
        "Your key for the row, unique within the organisation: importing the same key again "
        "updates the record it made.",
    ),
    Column(
        "organisationId",
        Kind.TEXT,
        "Blank for the organisation imported into, or one below it.",
    ),
    Column(
        "organisationOdsCode",
        Kind.TEXT,
        "The row's organisation by ODS code, instead of organisationId (both: they must "
        "agree): the organisation imported into or one below it.",
    ),
    Column(
        "organisationName",
        Kind.TEXT,
        "The row's organisation's name, as exported: ignored on import.",
        imported=False,
    ),
)
_EVIDENCE = Column("evidence", Kind.LINKS, "Evidence links: title|url, separated by ';'.")

ASSET_COLUMNS = _columns(
    *_IDENTITY,
    Column("area", Kind.TEXT, "The area of the map it belongs to."),
    Column("capabilityKey", Kind.TEXT, "A capability of the current reference model."),
    Column("name", Kind.TEXT, "What the asset is."),
    Column("description", Kind.TEXT, "Optional."),
    Column("maturity", Kind.WHOLE_NUMBER, "0 absent … 4 embedded."),
    Column("confidence", Kind.TEXT, "How well the claim is shown (default self_assessed)."),
    _EVIDENCE,
    Column("owner", Kind.TEXT, "Optional."),
    Column("tags", Kind.LIST, "Tags separated by ';'."),
    Column("sharedWithMembers", Kind.FLAG, "Whether its members may use it (default false)."),
    Column("reviewedBy", Kind.TEXT, "Who peer reviewed the claim."),
    Column("reviewedAt", Kind.TEXT, "When, e.g. 2026-01-10T09:00:00Z."),
)

ACTIVITY_COLUMNS = _columns(
    *_IDENTITY,
    Column("area", Kind.TEXT, "The area of the map it belongs to."),
    Column("capabilityKey", Kind.TEXT, "A capability of the current reference model."),
    Column("title", Kind.TEXT, "What the activity is."),
    Column("activityType", Kind.TEXT, "What kind of activity it is."),
    Column("status", Kind.TEXT, "Where it stands (default planned)."),
    Column("startDate", Kind.TEXT, "YYYY-MM-DD."),
    Column("endDate", Kind.TEXT, "YYYY-MM-DD, not before startDate."),
    Column(
        "assetIds",
        Kind.LIST,
        "Ids of the assets it uses (its organisation's or one above), separated by ';'.",
    ),
    Column(
        "assetExternalIds",
        Kind.LIST,
        "externalIds of its own organisation's assets it uses, separated by ';'.",
    ),
    Column("goal", Kind.TEXT, "Optional."),
    Column("outcome", Kind.TEXT, "Optional."),
    _EVIDENCE,
)

PLAN_ITEM_COLUMNS = _columns(
    *_IDENTITY,
    Column(
        "capabilityKey",
        Kind.TEXT,
        "A capability of the current reference model that applies to the organisation.",
    ),
    Column("title", Kind.TEXT, "What will be done."),
    Column("owner", Kind.TEXT, "A name or role; no other personal data."),
    Column("dueDate", Kind.TEXT, "YYYY-MM-DD."),
    Column("status", Kind.TEXT, "Where it stands (default planned)."),
    Column("rag", Kind.TEXT, "Red, amber or green rating (default green)."),
    Column("notes", Kind.TEXT, "Optional."),
    Column(
        "assetIds",
        Kind.LIST,
        "Ids of the assets it will create or improve (its organisation's or one above), "
        "separated by ';'.",
    ),
    Column(
        "assetExternalIds",
        Kind.LIST,
        "externalIds of its own organisation's assets it will create or improve, separated by ';'.",
    ),
    Column(
        "activityIds",
        Kind.LIST,
        "Ids of the activities it will start or improve (its organisation's or one above), "
        "separated by ';'.",
    ),
    Column(
        "activityExternalIds",
        Kind.LIST,
        "externalIds of its own organisation's activities it will start or improve, separated "
        "by ';'.",
    ),
)

ORGANISATION_COLUMNS = _columns(
    Column(
        "id",
        Kind.TEXT,
        "The organisation's id: blank to create or to match by odsCode, or an id to update it.",
    ),
    Column(
        "odsCode",
        Kind.TEXT,
        "Its NHS ODS code (1-9 letters and digits): importing the same code again updates the "
        "organisation it made.",
    ),
    Column("name", Kind.TEXT, "Its name."),
    Column(
        "organisationType",
        Kind.TEXT,
        "The kind of organisation.",
    ),
    Column(
        "parentId",
        Kind.TEXT,
        "Its parent by id, instead of parentOdsCode: blank for the organisation imported into.",
    ),
    Column(
        "parentOdsCode",
        Kind.TEXT,
        "Its parent by ODS code: the organisation imported into (blank), one below it, or one "
        "an earlier row of the file makes.",
    ),
    Column("region", Kind.TEXT, "Optional."),
    Column("nextReviewDue", Kind.TEXT, "When it next reviews its map and plan, YYYY-MM-DD."),
)

_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


def from_cell(column: Column, cell: str) -> Any:
    """The JSON value a (restored, non-blank) cell stands for. A cell that is not of its
    column's kind is passed on as text, so that the schema's own message explains it; a list
    cell that cannot be read raises ValueError."""
    if column.kind is Kind.WHOLE_NUMBER:
        return int(cell) if cell.lstrip("-").isdigit() else cell
    if column.kind is Kind.FLAG:
        folded = cell.strip().lower()
        return True if folded in _TRUE else False if folded in _FALSE else cell
    if column.kind is Kind.LIST:
        return cells.split_items(cell)
    if column.kind is Kind.LINKS:
        return cells.split_links(cell)
    return cell


def to_cell(column: Column, value: Any) -> str:
    """The text of a cell (before neutralising) for a stored value."""
    if value is None:
        return ""
    if column.kind is Kind.FLAG:
        return "true" if value else "false"
    if column.kind is Kind.LIST:
        return cells.join_items(str(item) for item in value)
    if column.kind is Kind.LINKS:
        return cells.join_links(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat()).replace("+00:00", "Z")
    return str(value)


@functools.cache
def to_snake(name: str) -> str:
    """Pydantic's conversion (four regular expressions), remembered: an export asks it of every
    cell of every row."""
    return _to_snake(name)


def to_row(columns: Mapping[str, Column], values: Mapping[str, Any]) -> list[str]:
    """A CSV row from a record's values by Python name (``capability_key``)."""
    return [
        cells.neutralise(to_cell(column, values.get(to_snake(name))))
        for name, column in columns.items()
    ]


def described(columns: Mapping[str, Column], what: str) -> str:
    """The CSV's shape, for the OpenAPI document."""
    lines = "\n".join(f"- `{name}`: {column.meaning}" for name, column in columns.items())
    return (
        f"UTF-8 with a byte-order mark, CRLF line ends, one row per {what}; list cells hold "
        "items separated by ';' (evidence: title|url); a cell a spreadsheet would run as a "
        "formula starts with '. The columns (as the import reads them):\n" + lines
    )
