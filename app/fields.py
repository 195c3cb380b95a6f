"""Field types shared by the request contracts: what each accepts, and what the OpenAPI
document says it accepts (kept equal, so generated clients and fuzzers see the real rules)."""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    HttpUrl,
    StringConstraints,
)

# Characters no text here may hold: C0 controls but tab and line breaks (NUL cannot even be
# stored in PostgreSQL), DEL and the C1 controls (U+0085 among them), the line and paragraph
# separators, the bidirectional controls (which make text display other than it reads, as
# U+202E does) and the byte-order mark.
_FORBIDDEN = (
    r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff"
)
_FORBIDDEN_RE = re.compile(f"[{_FORBIDDEN}]")
# Characters that show nothing on their own: a name made only of these is no name.
_INVISIBLE = r"\s\u00ad\u034f\u180e\u200b-\u200d\u2060-\u2064"
PRINTABLE = f"^[^{_FORBIDDEN}]*$"
# The same in the published schema, plus "at least one visible character" (ECMA-262 syntax).
VISIBLE_PRINTABLE = rf"^(?=[\s\S]*[^{_INVISIBLE}])[^{_FORBIDDEN}]*$"
_INVISIBLE_ONLY = re.compile(f"^[{_INVISIBLE}]*$")

# The published schema names the rule by a format and says it in words (the document's
# description, TEXT_FORMATS): as a pattern it was 200 characters on every text field of the
# docs. A fuzzer or a client that wants it machine-checked maps the format to PRINTABLE or
# VISIBLE_PRINTABLE (ECMA-262 syntax).
TEXT_FORMAT = "text"
QUERY_TEXT_FORMAT = "printable"
TEXT_FORMATS = f"""\
Text fields say which characters they refuse by their `format`. `{QUERY_TEXT_FORMAT}` (query
parameters): no control characters but tab and line breaks (C0, DEL and C1, NUL among them), no
line or paragraph separator (U+2028, U+2029), no bidirectional control (U+061C, U+200E, U+200F,
U+202A-U+202E, U+2066-U+2069) and no byte-order mark (U+FEFF). `{TEXT_FORMAT}` (bodies): the same,
and at least one visible character (not only spaces, soft hyphens or zero-width characters);
leading and trailing spaces are trimmed before the length is counted.
"""


def _printable(value: str) -> str:
    found = _FORBIDDEN_RE.search(value)
    if found:
        raise ValueError(
            f"character U+{ord(found.group()):04X} is not allowed (control, bidirectional "
            "or separator characters)"
        )
    return value


def _visible(value: str) -> str:
    _printable(value)
    if _INVISIBLE_ONLY.match(value):
        raise ValueError("must contain at least one visible character")
    return value


def _text(max_length: int) -> Any:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


_TEXT_SCHEMA = Field(json_schema_extra={"format": TEXT_FORMAT})
_QUERY_SCHEMA = Field(json_schema_extra={"format": QUERY_TEXT_FORMAT})

Text100 = Annotated[str, _TEXT_SCHEMA, _text(100), AfterValidator(_visible)]
Text200 = Annotated[str, _TEXT_SCHEMA, _text(200), AfterValidator(_visible)]
Text2000 = Annotated[str, _TEXT_SCHEMA, _text(2000), AfterValidator(_visible)]
Text4000 = Annotated[str, _TEXT_SCHEMA, _text(4000), AfterValidator(_visible)]
# A query parameter's text: the same characters refused, so ?q=%00 is a 422, not a database
# error.
QueryText = Annotated[str, _QUERY_SCHEMA, AfterValidator(_printable)]


def _no_controls(value: object) -> object:
    # Checked before URL parsing, which would silently drop some (a NUL truncated the URL).
    if isinstance(value, str):
        _printable(value)
        if any(ch.isspace() for ch in value):
            raise ValueError("a URL cannot contain spaces or line breaks")
    return value


Url = Annotated[HttpUrl, BeforeValidator(_no_controls)]


def _iso_text(value: object) -> object:
    # FastAPI validates parsed JSON in Python mode, where pydantic would read 0 as 1970-01-01.
    if isinstance(value, bool | int | float):
        raise ValueError("must be an ISO 8601 string, e.g. 2024-05-01")
    return value


def _iso_date_text(value: object) -> object:
    # A date is a calendar date: pydantic would also take "2024-05-01T00:00:00" and drop the time.
    _iso_text(value)
    if isinstance(value, str) and not _DATE.match(value):
        raise ValueError("must be a date as YYYY-MM-DD, e.g. 2024-05-01 (no time)")
    return value


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the date is out of range once converted to UTC") from exc


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]
UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_utc)]


def whole_number(value: object) -> object:
    # "3" is not a maturity and true is not 1; 3.0 is 3, as JSON Schema's integer says.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be a whole number")
    return int(value)


def _strict_bool(value: object) -> object:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


Flag = Annotated[bool, BeforeValidator(_strict_bool)]
