"""Field types shared by the request contracts: what each accepts, and what the OpenAPI
document says it accepts (kept equal, so generated clients and fuzzers see the real rules)."""

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

# No control characters but tab and line breaks: NUL cannot be stored in PostgreSQL text, and
# none of the others belongs in a name or a description.
PRINTABLE = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F]*$"


def _printable(value: str) -> str:
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("control characters are not allowed")
    return value


def _text(max_length: int) -> Any:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


_PRINTABLE_SCHEMA = Field(json_schema_extra={"pattern": PRINTABLE})

Text100 = Annotated[str, _PRINTABLE_SCHEMA, _text(100), AfterValidator(_printable)]
Text200 = Annotated[str, _PRINTABLE_SCHEMA, _text(200), AfterValidator(_printable)]
Text2000 = Annotated[str, _PRINTABLE_SCHEMA, _text(2000), AfterValidator(_printable)]
Text4000 = Annotated[str, _PRINTABLE_SCHEMA, _text(4000), AfterValidator(_printable)]
# A query parameter's text: the same rule, so ?q=%00 is a 422, not a database error.
QueryText = Annotated[str, _PRINTABLE_SCHEMA, AfterValidator(_printable)]


def _iso_text(value: object) -> object:
    # FastAPI validates parsed JSON in Python mode, where pydantic would read 0 as 1970-01-01.
    if isinstance(value, bool | int | float):
        raise ValueError("must be an ISO 8601 string, e.g. 2024-05-01")
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the date is out of range once converted to UTC") from exc


IsoDate = Annotated[date, BeforeValidator(_iso_text)]
UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_utc)]


def _whole_number(value: object) -> object:
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


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Flag = Annotated[bool, BeforeValidator(_strict_bool)]
