"""Answers written straight from plain values, for the hottest reads: no response model is
built and validated per item (the database's constraints vouch for the values), and orjson
writes the JSON. What is written must be what the route's response model would serialise to,
key for key and byte for byte; each route that answers this way has a test that says so."""

import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Response

from app.http.content import JSON


def dump_json(value: Any) -> bytes:
    """JSON as Pydantic writes it for these types (UUIDs as text, UTC times ending in Z)."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z, default=_as_text)


def json_response(value: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dump_json(value), media_type=JSON, headers=headers)


def _as_text(value: Any) -> str:
    # asyncpg's UUID subclass, which orjson does not take for a UUID.
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
