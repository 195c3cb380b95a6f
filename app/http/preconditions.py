"""Optimistic concurrency on the wire: ``ETag: W/"<version>"`` out, ``If-Match`` in.

The router requires If-Match on updates and deletes (428 without it) and parses it into an
``ExpectedVersion``; the service checks it against the locked row before anything else.
"""

import re
from typing import Annotated

from fastapi import Depends, Header, Response

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


IfMatchDep = Annotated[ExpectedVersion, Depends(if_match)]
