"""Optimistic concurrency on the wire: ``ETag: W/"<version>"`` out, ``If-Match`` in.

The router requires If-Match on updates and deletes (428 without it) and parses it into an
``ExpectedVersion``; the service checks it against the locked row before anything else.
"""

import re
import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Header, Request, Response
from sqlmodel import SQLModel, select

from app.auth.dependencies import PrincipalDep
from app.auth.scope import covers
from app.db import SessionDep, reads_in
from app.errors import BadRequest, PreconditionRequired
from app.records import ExpectedVersion

_TAG = re.compile(r'^\s*(?:W/)?"(\d{1,18})"\s*$')
IF_MATCH_PATTERN = r'^\s*(\*|(W/)?"\d{1,18}"(\s*,\s*(W/)?"\d{1,18}")*)\s*$'

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag from your last read, e.g. W/"3" (or * for any version).',
    ),
]


def etag(version: int) -> str:
    return f'W/"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def parse_if_match(value: str) -> ExpectedVersion:
    if value.strip() == "*":
        return ExpectedVersion(frozenset(), any_version=True)
    versions = set()
    for candidate in value.split(","):
        matched = _TAG.match(candidate)
        if matched is None:
            raise BadRequest(f'If-Match {value!r} is not a list of ETags like W/"3".')
        versions.add(int(matched.group(1)))
    return ExpectedVersion(frozenset(versions))


def if_match(if_match: IfMatchHeader = None) -> ExpectedVersion:
    """Required on updates and deletes. Optional in the signature only so that its absence is
    a 428, not a 422; the OpenAPI document marks it required."""
    if if_match is None:
        raise PreconditionRequired(
            "This request needs an If-Match header with the ETag of your last read, "
            'e.g. If-Match: W/"1".'
        )
    return parse_if_match(if_match)


def if_match_on(
    table: type[SQLModel], id_parameter: str
) -> Callable[..., Coroutine[Any, Any, ExpectedVersion]]:
    """If-Match for a write to one row of ``table``, checked before the body is validated.

    FastAPI solves dependencies before it validates the body, so a stale If-Match is a 412
    whatever else is wrong with the request (RFC 9110 evaluates preconditions first). The
    service checks again under the row lock, which catches a write landing in between."""

    # The caller comes first: without credentials a write is a 401, not a 428 for the
    # missing If-Match (which would tell an anonymous caller how to shape its request).
    async def dependency(
        request: Request,
        principal: PrincipalDep,
        session: SessionDep,
        if_match_header: IfMatchHeader = None,
    ) -> ExpectedVersion:
        expected = if_match(if_match_header)
        try:
            row_id = uuid.UUID(request.path_params[id_parameter])
        except (KeyError, ValueError):
            return expected  # a malformed id is the path parameter's 422
        columns: Any = table
        # An organisation's own id is its scope; an asset's or activity's is its owner's.
        owner = getattr(columns, "organisation_id", columns.id)
        statement = select(columns.version, owner).where(columns.id == row_id)
        found = (await session.exec(statement)).first()
        if found is None:
            return expected  # the service says 404
        current, organisation_id = found
        if await covers(reads_in(session), principal, organisation_id):
            # Outside the caller's scope the service says 404: a 412 would confirm the row.
            expected.check(current=current, what=f"{table.__name__} {row_id}")
        return expected

    return dependency
