"""Excel workbooks (.xlsx): an import's template with drop-downs and notes, and a filled one
read back through the same row pipeline as a CSV file (openpyxl).

An .xlsx is a zip of XML files, so its bytes can stand for far more than they weigh. Before
openpyxl sees one, the archive's directory is checked (zipfile reads only the directory): how
many members, how large unpacked in all, how much each is compressed (a zip bomb is refused
here, without unpacking anything; zipfile never unpacks past a member's declared size, so the
declared sizes bound the work), and the sheet's declared dimension (a sheet of a million rows
is refused before its first row is read). The rows are then read in read-only mode, a batch at
a time off the event loop, and counted as they come, whatever the dimension said."""

import io
import re
import zipfile
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from datetime import date, datetime, time
from itertools import islice
from typing import Any

from anyio import to_thread
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

from app.errors import FieldIssue, PayloadTooLarge, ValidationFailed
from app.transfer import csvio
from app.transfer.columns import Column, to_cell, to_snake
from app.transfer.formats import MAX_ROWS, RawRow, csv_row, header_of, too_many_rows

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A workbook Excel writes has a dozen members; one with many more is not a sheet to import.
MAX_MEMBERS = 500
# Unpacked, all members together: far above a sheet of MAX_ROWS rows of long text.
MAX_UNPACKED_BYTES = 256 * 1_048_576
# XML compresses 5-20 times; a member packed past this (and not tiny) is a bomb, not a sheet.
MAX_RATIO = 200
_SMALL_MEMBER = 1_048_576
# Rows read per trip to a worker thread.
_BATCH = 500
# Columns read per row: far more than any kind has. openpyxl pads every row, and every row
# missing between two that are there, to the width the sheet declares (up to 16,384), so
# without this bound a small file declaring a wide sheet costs minutes of work.
MAX_COLUMNS = 100
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="[A-Z]*\d*:?[A-Z]*(\d+)"')
NOTES_SHEET = "Notes"
LISTS_SHEET = "Lists"


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed(
        "The file is not an Excel workbook (.xlsx) this import can read.",
        errors=[FieldIssue((), message, pointer="body")],
    )


def check_archive(data: bytes) -> None:
    """Refuse a workbook whose archive would unpack too far, or whose sheet declares more rows
    than an import reads, before openpyxl is given it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _refused("It is not a zip archive, as every .xlsx is: save it as .xlsx.") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise PayloadTooLarge(
                f"The workbook has {len(members)} parts; an import reads one of at most "
                f"{MAX_MEMBERS}."
            )
        unpacked = sum(member.file_size for member in members)
        if unpacked > MAX_UNPACKED_BYTES:
            raise PayloadTooLarge(
                f"The workbook unpacks to {unpacked:,} bytes, more than the {MAX_UNPACKED_BYTES:,} "
                "an import reads: split it into several files."
            )
        for member in members:
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size > _SMALL_MEMBER and ratio > MAX_RATIO:
                raise PayloadTooLarge(
                    f"A part of the workbook ({member.filename[:100]}) is compressed {ratio:.0f} "
                    f"times, more than any sheet ({MAX_RATIO}): it is refused unread."
                )
        sheets = [m for m in members if m.filename.startswith("xl/worksheets/sheet")]
        for member in sheets:
            if (rows := _declared_rows(archive, member)) is not None and rows > MAX_ROWS + 1:
                raise too_many_rows()


def _declared_rows(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> int | None:
    """The last row a sheet's ``<dimension>`` names (it comes before the rows)."""
    try:
        with archive.open(member) as stream:
            start = stream.read(4096)
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
        raise _refused(f"A part of it cannot be unpacked: {exc}.") from None
    found = _DIMENSION.search(start)
    return int(found.group(1)) if found else None


def _text(value: Any) -> str:
    """A cell's value as the CSV pipeline reads text: whole numbers without ``.0``, a date
    (Excel stores one typed as 2026-04-01 as a date-time at midnight) as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


async def xlsx_rows(
    chunks: AsyncIterable[bytes], columns: Mapping[str, Column], sheet_name: str
) -> AsyncIterator[RawRow]:
    """The rows of the sheet named like the template's (else the first), as CSV rows are."""
    body = bytearray()
    async for chunk in chunks:  # bounded by the imports' body limit
        body += chunk
    data = bytes(body)
    await to_thread.run_sync(check_archive, data)
    rows = await to_thread.run_sync(_open, data, sheet_name)
    found: list[Column | None] | None = None
    line = 0
    while batch := await to_thread.run_sync(_next, rows):
        for values in batch:
            line += 1
            # Counted before blank rows are skipped: openpyxl yields a blank row for every row
            # number missing before one that is there, so a few bytes can stand for millions.
            if line > MAX_ROWS + 1:
                raise too_many_rows()
            cells = [_text(value) for value in values]
            if found is None:
                found = header_of(cells, columns)
                continue
            if not any(cell.strip() for cell in cells):
                continue
            yield csv_row(csvio.Record(line, cells), found)
    if found is None:
        raise _refused("The sheet is empty: it needs a header row.")


# What openpyxl raises on a file that is not the workbook it claims to be: besides its own
# and zipfile's errors, a part that is not well-formed XML (ParseError, a SyntaxError), an
# index into a list the file does not have (no sheets, a shared string past the table), and
# attributes or values of the wrong type. Each is the file's fault, so a 422, never a 500.
_UNREADABLE = (
    InvalidFileException,
    zipfile.BadZipFile,
    SyntaxError,
    LookupError,
    ValueError,
    TypeError,
    AttributeError,
    OSError,
)


def _open(data: bytes, sheet_name: str) -> Iterator[tuple[Any, ...]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book[sheet_name] if sheet_name in book.sheetnames else book.worksheets[0]
        width = min(sheet.max_column or MAX_COLUMNS, MAX_COLUMNS)
    except _UNREADABLE as exc:
        raise _refused(f"It cannot be opened as a workbook ({type(exc).__name__}).") from None
    return sheet.iter_rows(values_only=True, max_col=width)


def _next(rows: Iterator[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    try:
        return list(islice(rows, _BATCH))
    except _UNREADABLE as exc:
        raise _refused(f"A row cannot be read ({type(exc).__name__}).") from None


def template(
    sheet_name: str,
    columns: Mapping[str, Column],
    example: Mapping[str, Any],
    allowed: Mapping[str, list[str]],
    described: Mapping[str, str],
) -> bytes:
    """A workbook to fill in: the header and the example row on a sheet named after the kind,
    a drop-down on every enumerated column (its values on a hidden sheet, as a list typed into
    the validation is capped at 255 characters), and a Notes sheet describing each column."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_name
    lists = book.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    values = {to_snake(name): value for name, value in example.items()}
    bold = Font(bold=True)
    for index, (name, column) in enumerate(columns.items(), start=1):
        letter = get_column_letter(index)
        head = sheet.cell(row=1, column=index, value=name)
        head.font = bold
        cell = sheet.cell(row=2, column=index)
        # Set as text (never a formula, whatever it starts with).
        cell.value = to_cell(column, values.get(to_snake(name)))
        cell.data_type = "s"
        sheet.column_dimensions[letter].width = max(12, len(name) + 4)
        if name in allowed:
            options = allowed[name]
            list_column = get_column_letter(_next_free(lists))
            lists[f"{list_column}1"] = name
            for row, option in enumerate(options, start=2):
                lists[f"{list_column}{row}"] = option
            validation = DataValidation(
                type="list",
                formula1=f"{LISTS_SHEET}!${list_column}$2:${list_column}${len(options) + 1}",
                allow_blank=True,
                showErrorMessage=True,
                errorTitle=f"{name}: not an allowed value",
                error="Choose one of: " + ", ".join(options)[:200],
            )
            validation.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    notes = book.create_sheet(NOTES_SHEET, 1)
    notes.append(["Column", "What it holds", "Allowed values", "Example"])
    for cell in notes[1]:
        cell.font = bold
    for name, column in columns.items():
        notes.append(
            [
                name,
                described[name],
                ", ".join(allowed.get(name, [])),
                _example(column, values, name),
            ]
        )
    notes.column_dimensions["A"].width = 22
    notes.column_dimensions["B"].width = 90
    notes.column_dimensions["C"].width = 40
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _next_free(sheet: Any) -> int:
    """The first column of the lists sheet not yet used."""
    used = [cell.column for cell in sheet[1] if cell.value is not None] if sheet.max_row else []
    return max(used, default=0) + 1


def _example(column: Column, values: Mapping[str, Any], name: str) -> str:
    return to_cell(column, values.get(to_snake(name)))
