"""Rows of an imported file, whatever its format: a CSV sheet (by column name, in any order)
or a JSON array of objects. Each row carries where it is in the file, so that a refusal can
say which line and column."""

import json
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import ijson

from app import json_input
from app.errors import FieldIssue, PayloadTooLarge, ValidationFailed, excerpt
from app.transfer import cells, csvio
from app.transfer.columns import Column, from_cell

# Rows an import reads at most, whatever the file's format: its answer lists every row, and a
# file past it is refused when the row past it is reached (a workbook's, before it is read).
MAX_ROWS = 100_000


def too_many_rows() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file has more than {MAX_ROWS:,} rows, the most one import reads: split it into "
        "several files and import each."
    )


@dataclass
class RawRow:
    line: int
    """The row as a person counts it: in a sheet the header is row 1, so the first record is
    row 2; in a JSON array the first element is row 1 (its pointer, ``#/0``, counts from 0)."""
    values: dict[str, Any]
    issues: list[FieldIssue] = field(default_factory=list)
    json: bool = False

    def issue(self, column: str, message: str) -> FieldIssue:
        pointer = f"#/{self.line - 1}/{column}" if self.json else column
        return FieldIssue((), message, pointer=pointer, line=self.line, column=column)


# A header row is refused with this many problems at most: it holds up to a row's length of
# cells, and a problem for each would make the answer far larger than the file.
MAX_HEADER_ISSUES = 50


def header_of(cells_: list[str], columns: Mapping[str, Column]) -> list[Column | None]:
    """The columns in the file's order. Names are matched without regard to case (Excel users
    retype them), blank header cells are ignored; an unknown or repeated name is refused."""
    by_folded = {name.lower(): column for name, column in columns.items()}
    found: list[Column | None] = []
    issues: list[FieldIssue] = []
    seen: set[str] = set()
    refused = 0
    for raw in cells_:
        name = cells.restore(raw.strip())
        if not name:
            found.append(None)
            continue
        column = by_folded.get(name.lower())
        if column is None:
            message = f"Unknown column {excerpt(name)}."
        elif column.name in seen:
            message = f"Column {column.name} appears twice."
        else:
            seen.add(column.name)
            found.append(column)
            continue
        if len(issues) < MAX_HEADER_ISSUES:
            shown = name[:100]
            issues.append(FieldIssue((), message, pointer=shown, line=1, column=shown))
        else:
            refused += 1
    if issues:
        more = f" ({refused} more not listed)" if refused else ""
        raise ValidationFailed(
            f"The header row is not one this import reads{more}; the columns are: "
            f"{', '.join(columns)}.",
            errors=issues,
        )
    return found


async def csv_rows(
    chunks: AsyncIterable[bytes], columns: Mapping[str, Column]
) -> AsyncIterator[RawRow]:
    header: list[Column | None] | None = None
    try:
        async for record in csvio.records(chunks):
            if header is None:
                header = header_of(record.cells, columns)
                continue
            if not any(cell.strip() for cell in record.cells):
                continue  # a blank row, as spreadsheets leave at the end
            yield csv_row(record, header)
    except csvio.CsvFormatError as exc:
        raise ValidationFailed(
            "The file is not valid CSV.",
            errors=[FieldIssue((), str(exc), pointer="body", line=exc.line)],
        ) from exc
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            "The file is not UTF-8 text: save it as 'CSV UTF-8'.",
            errors=[FieldIssue((), str(exc), pointer="body")],
        ) from exc
    if header is None:
        raise ValidationFailed(
            "The file is empty: it needs a header row.",
            errors=[FieldIssue((), "No header row.", pointer="body", line=1)],
        )


def csv_row(record: csvio.Record, header: list[Column | None]) -> RawRow:
    row = RawRow(record.line, {})
    if len(record.cells) > len(header):
        extra = [cell for cell in record.cells[len(header) :] if cell.strip()]
        if extra:
            row.issues.append(
                row.issue("", f"{len(extra)} more cell(s) than the header has columns.")
            )
    for column, raw in zip(header, record.cells, strict=False):
        cell = cells.restore(raw.strip())
        if column is None or not cell or not column.imported:
            continue  # a blank cell: the field's default (or "required")
        try:
            row.values[column.name] = from_cell(column, cell)
        except ValueError as exc:
            row.issues.append(row.issue(column.name, str(exc)))
    return row


class NotAnArray(ValueError):
    pass


class _Stream:
    """The file-like object ijson reads from: an async read() over the request's chunks. The
    body must be an array (ijson would quietly find no items in an object); a byte-order mark
    is dropped. Each chunk's nesting is counted before ijson is given it (NestedTooDeep)."""

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = aiter(chunks)
        self._started = False
        self._depth = json_input.DepthGauge()

    async def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes with read(0) whether the stream gives bytes or text
            return b""
        chunk = await anext(self._chunks, b"")
        if not self._started:
            while chunk and not chunk.lstrip(b"\xef\xbb\xbf \t\r\n"):
                chunk = await anext(self._chunks, b"")
            chunk = chunk.removeprefix(b"\xef\xbb\xbf").lstrip()
            if not chunk.startswith(b"["):
                raise NotAnArray("The body must be a JSON array of objects, [{...}, ...].")
            self._started = True
        self._depth.feed(chunk)
        return chunk


_JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


async def json_rows(chunks: AsyncIterable[bytes]) -> AsyncIterator[RawRow]:
    """The objects of a JSON array, read one at a time (ijson), never the whole array."""
    index = -1
    try:
        async for item in ijson.items(_Stream(chunks), "item", use_float=True):
            index += 1
            row = RawRow(index + 1, {}, json=True)
            if isinstance(item, dict):
                row.values = item
            else:
                what = _JSON_KINDS.get(type(item), "a value")
                row.issues.append(row.issue("", f"Each item must be an object, not {what}."))
            yield row
    except (ijson.JSONError, NotAnArray, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "The body is not a JSON array of objects.",
            errors=[FieldIssue((), str(exc), pointer="body", line=index + 2)],
        ) from exc
