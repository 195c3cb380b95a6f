"""What request bodies are accepted: UTF-8 JSON (``application/json``), and on PATCH also
``application/merge-patch+json`` (RFC 7396), which is what a PATCH body means here. Anything
else, a body without a Content-Type, or JSON in another encoding, is 415 before FastAPI
parses it: FastAPI would otherwise guess (it reads UTF-16 and bodies with no type as JSON).
The file imports take ``text/csv`` too, and read their body as a stream (body_media_type).

A JSON body nested deeper than app.json_input allows is refused (400) before FastAPI parses it;
its size is bounded before that, by the body limit (app.http.middleware.BodyLimit).

Once the body passed those checks, an endpoint may answer before FastAPI solves its
dependencies and validates its body: a create's replay does (app.http.idempotency.replays).
"""

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from app import json_input
from app.errors import UnsupportedMediaType

JSON = "application/json"
CSV = "text/csv"
MERGE_PATCH = "application/merge-patch+json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# UTF-16/32 (with or without a byte-order mark) put NUL bytes among the first four of any
# JSON text; UTF-8 with a BOM starts with EF BB BF. RFC 8259 allows neither on the wire.
_UTF8_BOM = b"\xef\xbb\xbf"
# The attribute of an endpoint that answers some requests early: an async callable given the
# request, returning a response, or None to let the endpoint's own way answer.
EARLY_ANSWER = "lhs_early_answer"
EarlyAnswer = Callable[[Request], Awaitable[Response | None]]


def accepted_types(method: str) -> tuple[str, ...]:
    return (JSON, MERGE_PATCH) if method == "PATCH" else (JSON,)


def body_media_type(request: Request, accepted: tuple[str, ...]) -> str:
    """The body's media type, one of ``accepted`` (in UTF-8 if a charset is named), or 415."""
    header = request.headers.get("content-type")
    allow_patch = {"Accept-Patch": MERGE_PATCH} if request.method == "PATCH" else None
    if header is None:
        raise UnsupportedMediaType(
            f"The body has no Content-Type; send {' or '.join(accepted)}.", headers=allow_patch
        )
    media_type, *parameters = (part.strip() for part in header.split(";"))
    if media_type.lower() not in accepted:
        raise UnsupportedMediaType(
            f"The body is {media_type!r}; send {' or '.join(accepted)}.", headers=allow_patch
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise UnsupportedMediaType(f"The body must be UTF-8, not {value.strip()!r}.")
    return media_type.lower()


async def check_body(request: Request) -> None:
    body = await request.body()
    if not body:
        return  # an absent body is the schema's business (required or optional)
    body_media_type(request, accepted_types(request.method))
    if body.startswith(_UTF8_BOM) or b"\x00" in body[:4]:
        raise UnsupportedMediaType(
            "The body must be UTF-8 JSON without a byte-order mark (RFC 8259)."
        )
    json_input.check(body)


class JsonBodyRoute(APIRoute):
    """A route whose request body, if any, must be UTF-8 JSON (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        early: EarlyAnswer | None = getattr(self.endpoint, EARLY_ANSWER, None)

        async def checked(request: Request) -> Response:
            if request.method in BODY_METHODS:
                await check_body(request)
                if early is not None and (answer := await early(request)) is not None:
                    return answer
            return await handler(request)

        return checked
