"""``Idempotency-Key`` on creates: a retried POST gets the first response, not a duplicate.

A key is claimed in a short transaction of its own before the create runs, so two concurrent
requests with one key cannot both create (the second gets 409); the response is stored in the
create's own transaction. If the create fails, the claim is released and the key can be used again.
A claim left behind by a crashed instance is taken over after CLAIM_TIMEOUT. Keys are
remembered for RETENTION, per method and path (and, once access control lands, per caller).
"""

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import DEFER_COMMIT, utcnow
from app.errors import Conflict, FieldIssue, ValidationFailed
from app.models import IdempotencyRecord

CLAIM_TIMEOUT = timedelta(minutes=2)
RETENTION = timedelta(hours=24)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (e.g. a UUID). Sending the same request again with the "
        "same key returns the first response instead of creating a duplicate (for 24 hours).",
    ),
]


class Replay(Exception):
    """Raised to answer with the stored response of an earlier request with the same key."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.key)
        self.record = record


class Claim:
    def __init__(self, session: AsyncSession, key: str, scope: str) -> None:
        self.session = session
        self.key = key
        self.scope = scope

    async def remember(self, status_code: int, body: BaseModel, headers: Mapping[str, str]) -> None:
        """Store the response, and commit it with the create's own writes."""
        await self.session.exec(
            update(IdempotencyRecord)
            .where(col(IdempotencyRecord.key) == self.key)
            .where(col(IdempotencyRecord.scope) == self.scope)
            .values(
                status_code=status_code,
                body=body.model_dump(mode="json", by_alias=True),
                location=headers.get("location"),
                etag=headers.get("etag"),
            )
        )
        await self.session.commit()


@asynccontextmanager
async def idempotent(
    request: Request, session: AsyncSession, key: str | None
) -> AsyncIterator[Claim | None]:
    """Claim the key (or replay its response) around a create; release it if the create fails.

    Everything runs on the request's own session, one short transaction after another, so
    SQLite's single writer never waits on itself."""
    if key is None:
        yield None
        return
    scope = f"{request.method} {request.url.path}"
    digest = hashlib.sha256(await request.body()).hexdigest()
    await _claim(session, key=key, scope=scope, digest=digest)
    try:
        yield Claim(session, key, scope)
    except BaseException:
        await session.rollback()
        await session.exec(
            delete(IdempotencyRecord)
            .where(col(IdempotencyRecord.key) == key)
            .where(col(IdempotencyRecord.scope) == scope)
            .where(col(IdempotencyRecord.status_code).is_(None))
        )
        await session.commit()
        raise


R = TypeVar("R")
P = TypeVar("P", bound=BaseModel)


async def create_once(
    request: Request,
    response: Response,
    session: AsyncSession,
    key: str | None,
    *,
    create: Callable[[], Awaitable[R]],
    present: Callable[[R], P],
    location: Callable[[R], str],
) -> P:
    """Run a create (201 + Location), honouring an Idempotency-Key when one was sent.

    With a key, the create's commit is deferred (db.commit only flushes), so the new resource
    and the stored response are committed together: a crash leaves both or neither."""
    async with idempotent(request, session, key) as claim:
        session.info[DEFER_COMMIT] = claim is not None
        try:
            created = await create()
        finally:
            session.info.pop(DEFER_COMMIT, None)
        response.headers["Location"] = location(created)
        public = present(created)
        if claim:
            await claim.remember(201, public, response.headers)
    return public


async def _claim(session: AsyncSession, *, key: str, scope: str, digest: str) -> None:
    now = utcnow()
    await session.exec(
        delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < now - RETENTION)
    )
    session.add(IdempotencyRecord(key=key, scope=scope, request_digest=digest, created_at=now))
    try:
        await session.commit()
        return
    except IntegrityError:
        await session.rollback()
    existing = await session.get(IdempotencyRecord, (key, scope))
    await session.commit()
    if existing is None:  # released meanwhile: the caller may simply retry
        raise Conflict("A request with this Idempotency-Key just failed; retry it.")
    if existing.request_digest != digest:
        raise ValidationFailed(
            "This Idempotency-Key was already used with a different request body.",
            errors=[FieldIssue("Idempotency-Key", "Use a new key for a different request.")],
        )
    if existing.status_code is not None:
        raise Replay(existing)
    if now - existing.created_at < CLAIM_TIMEOUT:
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            headers={"Retry-After": "1"},
        )
    existing.created_at = now  # abandoned by a crashed instance: take it over
    session.add(existing)
    await session.commit()


async def replay_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Replay)
    record = exc.record
    headers: dict[str, Any] = {"Idempotent-Replayed": "true"}
    if record.location:
        headers["Location"] = record.location
    if record.etag:
        headers["ETag"] = record.etag
    return JSONResponse(record.body, status_code=record.status_code or 200, headers=headers)
