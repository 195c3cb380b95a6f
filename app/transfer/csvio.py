"""Reading a CSV file from the request stream, a record at a time, and writing CSV lines.

The body is decoded incrementally (UTF-8; a byte-order mark, as Excel writes, is dropped) and
cut into records as it arrives: only the record being read is held, never the whole file. A
record ends at a line break outside quotes, which is where the count of quote characters seen
since the record began is even (a doubled quote inside a quoted cell counts twice, so it keeps
the parity). Each record is then parsed by the csv module.
"""

import codecs
import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass

from app.transfer.cells import BOM

# Excel saves with the list separator of its locale: ',' in the UK, ';' in much of Europe.
DELIMITERS = (",", ";", "\t")
# A row (its cells with their line breaks) is held whole while it is parsed: this bounds it.
MAX_ROW_CHARS = 1_048_576


@dataclass(frozen=True)
class Record:
    line: int
    """The row as a spreadsheet numbers it: the header is 1 (a cell with line breaks in it
    is still one row)."""
    cells: list[str]


class CsvFormatError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


async def _lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Text lines (with their line ends) decoded from byte chunks as they arrive. A line
    longer than MAX_ROW_CHARS is refused rather than held."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    async for chunk in chunks:
        scanned = len(pending)  # only the new text can hold a line break
        pending += decoder.decode(chunk)
        start = 0
        while (end := pending.find("\n", max(start, scanned))) >= 0:
            yield pending[start : end + 1]
            start = end + 1
        pending = pending[start:]
        if len(pending) > MAX_ROW_CHARS:
            raise CsvFormatError(0, f"A row is longer than {MAX_ROW_CHARS} characters.")
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _delimiter(header: str) -> str:
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    return max(DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","


async def records(chunks: AsyncIterable[bytes]) -> AsyncIterator[Record]:
    """The file's records, header first; UnicodeDecodeError if it is not UTF-8, CsvFormatError
    if a record cannot be parsed (e.g. a quote left open at the end of the file)."""
    delimiter: str | None = None
    line = 0
    parts: list[str] = []
    quotes = 0
    size = 0
    try:
        async for text in _lines(chunks):
            parts.append(text)
            quotes += text.count('"')
            size += len(text)
            if size > MAX_ROW_CHARS:
                raise CsvFormatError(line + 1, f"A row is longer than {MAX_ROW_CHARS} characters.")
            if quotes % 2:
                continue  # a line break inside a quoted cell: the record goes on
            line += 1
            if delimiter is None:
                delimiter = _delimiter(parts[0])
            yield Record(line, _parse(parts, delimiter, line))
            parts, quotes, size = [], 0, 0
    except CsvFormatError as exc:
        if exc.line == 0:  # raised while reading a line: it belongs to the next record
            raise CsvFormatError(line + 1, str(exc)) from exc
        raise
    if parts:
        raise CsvFormatError(line + 1, "A quoted cell is not closed before the end of the file.")


def _parse(parts: list[str], delimiter: str, line: int) -> list[str]:
    try:
        return next(csv.reader(parts, delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        raise CsvFormatError(line, f"This row is not valid CSV: {exc}.") from exc


def encode_rows(rows: Iterable[list[str]], *, first: bool = False) -> bytes:
    """CSV lines (CRLF, as RFC 4180 and Excel write them), with the BOM before the first."""
    buffer = io.StringIO()
    if first:
        buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
