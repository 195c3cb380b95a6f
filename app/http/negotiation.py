"""JSON or CSV for the lists and the gap analysis: ``?format=`` wins, then ``Accept``.

JSON stays the answer unless CSV is asked for, and an Accept header that names neither (or
cannot be parsed) still gets JSON: these operations answered JSON whatever Accept said before
they could answer CSV, and clients that send ``Accept: text/html, */*`` must keep working."""

from enum import StrEnum
from typing import Annotated, Any

import mimeparse
from fastapi import Header, Query

from app.errors import BadRequest, FieldIssue, NotAcceptable
from app.http.content import CSV, JSON


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"


FormatQuery = Annotated[
    Format | None,
    Query(
        alias="format",
        description="json (default) or csv; overrides Accept. CSV lists every matching row, "
        "without paging.",
    ),
]
AcceptHeader = Annotated[str | None, Header(include_in_schema=False)]


def wants_csv(requested: Format | None, accept: str | None) -> bool:
    if requested is not None:
        return requested is Format.CSV
    if not accept or not accept.strip():
        return False
    try:
        # On a tie (*/*) the last type listed wins: JSON.
        return str(mimeparse.best_match([CSV, JSON], accept)) == CSV
    except mimeparse.MimeTypeParseException:
        return False


def csv_ok(description: str) -> dict[str, Any]:
    """The 200 response's text/csv entry, beside the JSON that FastAPI declares."""
    return {
        "description": "JSON, or CSV when asked for (?format=csv or Accept: text/csv).",
        "content": {CSV: {"schema": {"type": "string", "description": description}}},
    }


def best_match(offered: list[str], accept: str | None, *, what: str) -> str:
    """The Accept header's best match among ``offered`` (ties go to the last one; an absent or
    empty header takes the last one). None acceptable is 406."""
    if not accept or not accept.strip():
        return offered[-1]
    try:
        best = str(mimeparse.best_match(offered, accept))
    except mimeparse.MimeTypeParseException as exc:
        raise BadRequest(
            "The Accept header is not a list of media ranges.",
            errors=[FieldIssue((), str(exc), pointer="Accept")],
        ) from exc
    if not best:
        allowed = " or ".join(offered)
        raise NotAcceptable(
            f"{what} is available as {allowed}; Accept allows neither.",
            errors=[FieldIssue((), f"Allow {allowed}.", pointer="Accept")],
        )
    return best
