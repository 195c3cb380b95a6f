"""``Idempotency-Key`` on creates: a retried POST gets the first response, not a duplicate.

A key is claimed in a short transaction of its own before the create runs, so two concurrent
requests with one key cannot both create (the second gets 409). The create and its stored
response are then written by the request's unit of work and committed together: a crash leaves
both or neither. If the unit of work rolls back, the claim is released (shielded from
cancellation), so the key can be used again at once. A claim left behind by a crashed instance
is taken over after CLAIM_TIMEOUT. Keys are remembered for RETENTION, per method and path;
expired ones are ignored when met and purged in the background, never on the request path.

Two requests are the same when their JSON bodies are equal, whatever the order of keys or the
whitespace. A replay whose resource has been deleted since is a 410 (it must not come back,
and a 201 would point at a 404).

A replay is answered from one prebuilt read outside any transaction (the record with whether
its resource still exists) when that read finds a finished record of the same request, its
resource present and its retention not over: such a record never changes but by expiring,
so what the claim's transaction would read is the same. Anything else (a new key, another
body, a claim in flight or abandoned, a deleted resource, an expired key) goes the claim's
way. The claim cost four round trips and two ORM queries: a replay served 0.23 of a GET.

That read is made before FastAPI solves the create's dependencies and validates its body, by
its route (``replays`` marks the endpoint; app.http.content runs it once the body passed its
checks as JSON). The request's unit of work (a session made and closed), the body's
validation, the endpoint and an exception to carry the answer out cost more than the read: a
replay served 0.6 of a GET. Skipping them changes no answer: the caller is still
authenticated (and rate limited by the middleware), and a record is only found for the
method, path and caller of a create that succeeded with a body equal as JSON, which passed
the same validation then. A key the header's rules refuse goes the route's way (422).
"""

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Annotated, Any, TypeVar, cast

import pydantic_core
from fastapi import Header, Request, Response
from pydantic import BaseModel
from sqlalchemy import Table, bindparam, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from app import json_input
from app.auth.dependencies import current_principal
from app.db import (
    Prebuilt,
    Sessions,
    fetch,
    on_rollback,
    prebuilt,
    sessions_of,
    side_transaction,
    utcnow,
)
from app.errors import AppError, Conflict, FieldIssue, Gone, ValidationFailed
from app.http.content import EARLY_ANSWER, JSON
from app.models import IdempotencyRecord

logger = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=2)
RETENTION = timedelta(hours=24)

# The header's rules, checked by FastAPI on the route's way and by ``replays`` before it.
KEY_PATTERN = r"^[\x21-\x7e]+$"
KEY_MAX_LENGTH = 200
_VALID_KEY = re.compile(r"[\x21-\x7e]+")  # KEY_PATTERN, for fullmatch

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=KEY_MAX_LENGTH,
        pattern=KEY_PATTERN,
        description="Any unique string (e.g. a UUID). Sending the same request again with the "
        "same key returns the first response instead of creating a duplicate (for 24 hours).",
    ),
]


@dataclass(frozen=True, slots=True)
class Stored:
    """The response a finished create stored, as a replay sends it again. A plain value: an
    IdempotencyRecord (an ORM model, validated as it is made) cost a replay more than its read."""

    status_code: int
    body: Any
    location: str | None
    etag: str | None

    def response(self) -> Response:
        headers = {"Idempotent-Replayed": "true"}
        if self.location:
            headers["Location"] = self.location
        if self.etag:
            headers["ETag"] = self.etag
        # Written by pydantic-core, as the first answer was: the standard library's json writes
        # some floats otherwise (1e-05 for Pydantic's 0.00001), and a replay is the same bytes.
        return Response(
            pydantic_core.to_json(self.body),
            status_code=self.status_code,
            media_type=JSON,
            headers=headers,
        )


class Replay(Exception):
    """Raised to answer with the stored response of an earlier request with the same key (where
    the claim's transaction finds one; see the module's docstring)."""

    def __init__(self, stored: Stored) -> None:
        super().__init__()
        self.stored = stored


def fingerprint(body: bytes, *, max_bytes: int) -> str:
    """The same JSON is the same request, whatever its key order or spacing."""
    try:
        decoded = json_input.loads(body, max_bytes=max_bytes)
        canonical = json.dumps(decoded, sort_keys=True, separators=(",", ":"))
    except (ValueError, AppError):
        return hashlib.sha256(body).hexdigest()
    return hashlib.sha256(canonical.encode()).hexdigest()


R = TypeVar("R")
P = TypeVar("P", bound=BaseModel)
E = TypeVar("E", bound=Callable[..., Any])

# Set in the request's scope once ``replays`` has looked for a finished record: create_once
# then goes straight to the claim (which settles every case) rather than read it again.
_LOOKED = "lhs_idempotency_looked"


def replays(table: type[SQLModel]) -> Callable[[E], E]:
    """Mark a create's endpoint (the one that calls create_once with this ``table``), under its
    ``@router.post``, so its route answers a replay before FastAPI solves the endpoint's
    dependencies and validates its body (see the module's docstring)."""

    async def early(request: Request) -> Response | None:
        key = request.headers.get("idempotency-key")
        if key is None or len(key) > KEY_MAX_LENGTH or not _VALID_KEY.fullmatch(key):
            return None
        # What the endpoint's PrincipalDep would do first: 401 without a caller; a key's use noted.
        await current_principal(request)
        scope = _scope(request)
        digest = fingerprint(
            await request.body(), max_bytes=request.app.state.settings.max_body_bytes
        )
        request.scope[_LOOKED] = True
        sessions: Sessions = request.app.state.sessions
        stored = await _finished(sessions, table, key=key, scope=scope, digest=digest)
        return None if stored is None else stored.response()

    def mark(endpoint: E) -> E:
        setattr(endpoint, EARLY_ANSWER, early)
        return endpoint

    return mark


def _scope(request: Request) -> str:
    # Keys are per caller: one caller's key never replays (or blocks) another's request.
    caller = request.scope.get("state", {}).get("principal")
    owner = getattr(caller, "rate_key", "anonymous")
    return f"{request.method} {request.url.path} {owner}"[:300]


async def create_once(
    request: Request,
    response: Response,
    session: AsyncSession,
    key: str | None,
    *,
    create: Callable[[], Awaitable[R]],
    present: Callable[[R], P],
    location: Callable[[R], str],
    table: type[SQLModel],
) -> P:
    """Run a create (201 + Location), honouring an Idempotency-Key when one was sent."""
    if key is None:
        created = await create()
        response.headers["Location"] = location(created)
        return present(created)
    sessions = sessions_of(session)
    scope = _scope(request)
    body = await request.body()
    digest = fingerprint(body, max_bytes=request.app.state.settings.max_body_bytes)
    if not request.scope.get(_LOOKED):
        finished = await _finished(sessions, table, key=key, scope=scope, digest=digest)
        if finished is not None:
            raise Replay(finished)
    await _claim(sessions, key=key, scope=scope, digest=digest)

    async def release() -> None:
        async with side_transaction(sessions) as own:
            await own.exec(
                delete(IdempotencyRecord)
                .where(col(IdempotencyRecord.key) == key)
                .where(col(IdempotencyRecord.scope) == scope)
                .where(col(IdempotencyRecord.status_code).is_(None))
            )

    on_rollback(session, release)
    created = await create()
    response.headers["Location"] = location(created)
    public = present(created)
    await _remember(session, key, scope, public, response.headers, table, _id_of(created))
    return public


def _id_of(created: Any) -> uuid.UUID | None:
    value = getattr(created, "id", None)
    return value if isinstance(value, uuid.UUID) else None


async def _remember(
    session: AsyncSession,
    key: str,
    scope: str,
    body: BaseModel,
    headers: Mapping[str, str],
    table: type[SQLModel],
    resource_id: uuid.UUID | None,
) -> None:
    """Store the response beside the create's own writes; the unit of work commits both."""
    await session.exec(
        update(IdempotencyRecord)
        .where(col(IdempotencyRecord.key) == key)
        .where(col(IdempotencyRecord.scope) == scope)
        .values(
            status_code=201,
            body=body.model_dump(mode="json", by_alias=True),
            location=headers.get("location"),
            etag=headers.get("etag"),
            resource_table=str(table.__tablename__),
            resource_id=resource_id,
        )
    )


_RECORD = cast(Table, IdempotencyRecord.__table__)  # type: ignore[attr-defined]


@cache
def replay_query(table_name: str) -> Prebuilt:
    """The record of a key with whether the resource it names (in ``table_name``) exists."""
    resource = SQLModel.metadata.tables[table_name]
    present = exists().where(resource.c.id == _RECORD.c.resource_id)
    statement = select(
        _RECORD.c.request_digest,
        _RECORD.c.status_code,
        _RECORD.c.body,
        _RECORD.c.location,
        _RECORD.c.etag,
        _RECORD.c.resource_table,
        _RECORD.c.created_at,
        present.label("present"),
    ).where(_RECORD.c.key == bindparam("key"), _RECORD.c.scope == bindparam("scope"))
    return prebuilt(f"idempotency.replay.{table_name}", statement)


async def _finished(
    sessions: Sessions, table: type[SQLModel], *, key: str, scope: str, digest: str
) -> Stored | None:
    """The finished record to replay, when one read outside a transaction settles it; None
    sends the request the claim's way (see the module's docstring)."""
    table_name = str(table.__tablename__)
    rows = await fetch(sessions.reads, replay_query(table_name), {"key": key, "scope": scope})
    if not rows:
        return None
    row = rows[0]
    if (
        row["status_code"] is None
        or row["request_digest"] != digest
        or row["resource_table"] != table_name
        or not row["present"]
        or utcnow() - row["created_at"] > RETENTION
    ):
        return None
    return Stored(row["status_code"], row["body"], row["location"], row["etag"])


async def _claim(sessions: Sessions, *, key: str, scope: str, digest: str) -> None:
    """Claim the key in a side transaction, committed before the create runs (a concurrent
    retry sees it), or answer from the record another request left."""
    now = utcnow()
    try:
        async with side_transaction(sessions) as session:
            existing = await session.get(IdempotencyRecord, (key, scope))
            if existing is None or now - existing.created_at > RETENTION:
                if existing is not None:  # expired: the key is free again
                    await session.delete(existing)
                    await session.flush()
                session.add(IdempotencyRecord(key=key, scope=scope, request_digest=digest))
                return
            await _answer_or_take_over(session, existing, digest=digest, now=now)
            return
    except IntegrityError:  # claimed by a concurrent request meanwhile
        pass
    async with side_transaction(sessions) as session:
        existing = await session.get(IdempotencyRecord, (key, scope))
        if existing is None:
            raise Conflict(
                "A request with this Idempotency-Key just failed; retry it.",
                headers={"Retry-After": "1"},
            )
        await _answer_or_take_over(session, existing, digest=digest, now=now)


async def _answer_or_take_over(
    session: AsyncSession, existing: IdempotencyRecord, *, digest: str, now: datetime
) -> None:
    """A key claimed before: refuse another body, replay what was created, wait for one in
    flight, or take over one a crashed instance abandoned (committed by the caller's block)."""
    if existing.request_digest != digest:
        raise ValidationFailed(
            "This Idempotency-Key was already used with a different request body.",
            errors=[
                FieldIssue((), "Use a new key for a different request.", pointer="Idempotency-Key")
            ],
        )
    if (status_code := existing.status_code) is not None:
        if not await _resource_exists(session, existing):
            raise Gone(
                "The resource this request created has since been deleted; send a new "
                "Idempotency-Key to create it again."
            )
        # Copied out first: the side transaction's rollback expires the record's attributes.
        stored = Stored(status_code, existing.body, existing.location, existing.etag)
        raise Replay(stored)
    if now - existing.created_at < CLAIM_TIMEOUT:
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            headers={"Retry-After": "1"},
        )
    existing.created_at = now  # abandoned by a crashed instance: take it over
    existing.request_digest = digest
    session.add(existing)


async def _resource_exists(session: AsyncSession, record: IdempotencyRecord) -> bool:
    if record.resource_table is None or record.resource_id is None:
        return True
    table = SQLModel.metadata.tables.get(record.resource_table)
    if table is None:
        return True
    return bool(await session.scalar(select(exists().where(table.c.id == record.resource_id))))


async def purge_expired(sessions: Sessions) -> int:
    """Forget keys older than RETENTION (run in the background, not per request)."""
    async with side_transaction(sessions) as session:
        result = await session.exec(
            delete(IdempotencyRecord).where(
                col(IdempotencyRecord.created_at) < utcnow() - RETENTION
            )
        )
    return int(result.rowcount or 0)


async def replay_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    return exc.stored.response()
