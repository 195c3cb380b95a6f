"""JSON written by orjson straight from plain values, for the answers registered in
app.http.answers: no response model is built and validated per item (the database's
constraints vouch for the values). What is written must be what the route's response model
would serialise to, key for key and byte for byte; tests/test_answer_bytes.py holds it so."""

import uuid
from typing import Any

import orjson


def dump_json(value: Any) -> bytes:
    """JSON as Pydantic writes it for these types (UUIDs as text, UTC times ending in Z)."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z, default=_as_text)


def _as_text(value: Any) -> str:
    # asyncpg's UUID subclass, which orjson does not take for a UUID.
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
