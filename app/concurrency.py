"""Optimistic concurrency: ``ETag: W/"<version>"`` out, ``If-Match`` required on writes."""

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Response

from app.errors import BadRequest, PreconditionFailed, PreconditionRequired

_TAG = re.compile(r'^\s*(?:W/)?"(\d{1,18})"\s*$')


def etag(version: int) -> str:
    return f'W/"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


@dataclass(frozen=True)
class Expected:
    """The versions a caller's If-Match accepts; ``any_version`` for ``If-Match: *``."""

    versions: frozenset[int]
    any_version: bool = False

    def check(self, *, current: int, what: str) -> None:
        if not self.any_version and current not in self.versions:
            raise PreconditionFailed(
                f"{what} is at version {current}, which does not match If-Match: it changed "
                "since you read it. Fetch it again, then retry with the new ETag.",
                headers={"ETag": etag(current)},
            )


def if_match(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='The ETag from your last read, e.g. W/"3" (or * for any version).',
        ),
    ] = None,
) -> Expected:
    if if_match is None:
        raise PreconditionRequired(
            "This request needs an If-Match header with the ETag of your last read, "
            'e.g. If-Match: W/"1".'
        )
    if if_match.strip() == "*":
        return Expected(frozenset(), any_version=True)
    versions = set()
    for candidate in if_match.split(","):
        matched = _TAG.match(candidate)
        if matched is None:
            raise BadRequest(f'If-Match {if_match!r} is not a list of ETags like W/"3".')
        versions.add(int(matched.group(1)))
    return Expected(frozenset(versions))


IfMatchDep = Annotated[Expected, Depends(if_match)]
