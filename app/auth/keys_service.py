"""API-key use cases: create within the caller's power and scope, list within scope, revoke.

Services flush and never commit; each change adds its audit event to the same session.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.audit import service as audit
from app.auth import keycache, keys, revocations
from app.auth.principal import Principal, may_grant_role
from app.auth.schemas import ApiKeyCreate, ApiKeyRotate
from app.auth.scope import covers
from app.db import reads_in, utcnow
from app.errors import Conflict, FieldIssue, Forbidden, NotFound, ValidationFailed
from app.models import ApiKey, Organisation
from app.organisations import hierarchy, refs
from app.pagination import PageParams, keyset
from app.vocabulary import AuditAction, ResourceType, Role

# A key's scope, as a body names it: the same words whether the code is unknown or out of scope.
SCOPE = refs.Named("organisation_id", "organisation_ods_code", "The organisation does not exist.")
PUBLIC_FIELDS = ("name", "prefix", "role", "organisation_id", "created_by", "expires_at")


def _require_admin(principal: Principal) -> None:
    if not principal.can(Role.ADMIN):
        raise Forbidden("Only admins manage API keys.")


async def create(
    session: AsyncSession,
    *,
    principal: Principal,
    data: ApiKeyCreate,
    max_lifetime: timedelta | None,
) -> tuple[ApiKey, str]:
    """The new key and its secret, which the caller shows once and never stores.

    ``max_lifetime`` is the longest the key may live: an expiry past it is refused, and an
    omitted one becomes it, so every key made through the API expires. ``None`` is for the
    operator's command line alone, where a key may never expire."""
    _require_admin(principal)
    if not may_grant_role(principal, data.role):
        raise Forbidden(f"A {principal.role} cannot create a key with the {data.role} role.")
    organisation_id = await refs.resolve(
        session,
        principal,
        SCOPE,
        organisation_id=data.organisation_id,
        ods_code=data.organisation_ods_code,
    )
    if organisation_id is None:
        if not principal.is_global:
            raise Forbidden("A key cannot have a wider scope than yours: name an organisation.")
    elif not await _visible_organisation(session, principal, organisation_id):
        # The same answer whether it exists elsewhere or nowhere: scope is not to be probed.
        raise ValidationFailed(
            SCOPE.missing,
            errors=[FieldIssue("organisation_id", f"No organisation {organisation_id}.")],
        )
    now = utcnow()
    expires_at = _expiry(data, now=now, max_lifetime=max_lifetime)
    new = keys.generate()
    row = ApiKey(
        name=data.name,
        prefix=new.prefix,
        secret_hash=new.secret_hash,
        role=data.role,
        organisation_id=organisation_id,
        created_by=principal.subject,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    audit.record(
        session,
        principal=principal,
        action=AuditAction.CREATE,
        resource_type=ResourceType.API_KEY,
        resource_id=row.id,
        organisation_id=row.organisation_id,
        changes=audit.diff({}, _public(row)),
    )
    await session.flush()
    return row, new.key


def _expiry(
    data: ApiKeyCreate, *, now: datetime, max_lifetime: timedelta | None
) -> datetime | None:
    if data.expires_at is not None and data.expires_at <= now:
        raise ValidationFailed(
            "A key cannot expire in the past.",
            errors=[FieldIssue("expires_at", "Must be in the future.")],
        )
    if max_lifetime is None:
        return data.expires_at
    latest = now + max_lifetime
    if data.expires_at is None:
        return latest
    if data.expires_at > latest:
        days = max_lifetime.days
        raise ValidationFailed(
            f"A key lives at most {days} days.",
            errors=[
                FieldIssue(
                    "expires_at",
                    f"At most {days} days after creation: {latest.isoformat()} or earlier.",
                )
            ],
        )
    return data.expires_at


async def list_page(
    session: AsyncSession, *, principal: Principal, page: PageParams
) -> Sequence[ApiKey]:
    _require_admin(principal)
    statement = select(ApiKey)
    if principal.organisation_id is not None:
        tree = hierarchy.descendants(principal.organisation_id)
        statement = statement.where(col(ApiKey.organisation_id).in_(select(tree.c.id)))
    statement = keyset(
        statement, created_at=col(ApiKey.created_at), row_id=col(ApiKey.id), params=page
    )
    return (await session.exec(statement)).all()


async def get(session: AsyncSession, *, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    _require_admin(principal)
    row = await session.get(ApiKey, key_id)
    if row is None or not await _in_scope(session, principal, row):
        raise NotFound(f"API key {key_id} does not exist.")
    return row


async def revoke(session: AsyncSession, *, principal: Principal, key_id: uuid.UUID) -> bool:
    """Revoke the key; True if this call did, False if it was revoked already (then nothing is
    written). Once committed it stops working on this instance at once, and on the others at
    once where changes are published (app.auth.revocations), else within the key cache's time
    to live."""
    row = await get(session, principal=principal, key_id=key_id)
    before = _public(row) | {"revoked_at": None}
    now = utcnow()
    # One conditional UPDATE, not a read then a write: of revocations racing on one key, the
    # database lets exactly one match "not revoked yet" (PostgreSQL re-checks the condition
    # once the winner commits), so one event is written and the first time is kept.
    revoked = await session.exec(
        update(ApiKey)
        .where(col(ApiKey.id) == row.id, col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    keycache.forget(row.prefix)
    revocations.after_commit(session, row.prefix)
    if not revoked.rowcount:
        return False
    audit.record(
        session,
        principal=principal,
        action=AuditAction.UPDATE,
        resource_type=ResourceType.API_KEY,
        resource_id=row.id,
        organisation_id=row.organisation_id,
        changes=audit.diff(before, _public(row) | {"revoked_at": now}),
    )
    await session.flush()
    return True


async def rotate(
    session: AsyncSession, *, principal: Principal, key_id: uuid.UUID, data: ApiKeyRotate
) -> tuple[ApiKey, str]:
    """A new secret for the same key (same id, prefix, role, scope and expiry); the secret it
    replaces keeps working for the grace period asked for, then is refused. A secret replaced
    earlier and still in its grace period stops at once: a key has at most two secrets."""
    row = await get(session, principal=principal, key_id=key_id)
    # Two rotations of one key at once take turns on its row (PostgreSQL; SQLite has one
    # writer): each reads the secret the other left, so neither hands out a secret that the
    # other's write then silently replaces.
    await session.refresh(row, with_for_update=True)
    now = utcnow()
    if row.revoked_at is not None:
        raise Conflict(f"API key {row.prefix} is revoked: make a new key instead.")
    if row.expires_at is not None and row.expires_at <= now:
        raise Conflict(f"API key {row.prefix} has expired: make a new key instead.")
    before = _rotation(row)
    new = keys.generate(row.prefix)
    until = now + timedelta(seconds=data.grace_period_seconds)
    # Never past the key's own expiry: the old secret cannot outlive the key.
    if row.expires_at is not None:
        until = min(until, row.expires_at)
    grace = data.grace_period_seconds > 0
    row.previous_secret_hash = row.secret_hash if grace else None
    row.previous_secret_expires_at = until if grace else None
    row.secret_hash = new.secret_hash
    row.rotated_at = now
    session.add(row)
    keycache.forget(row.prefix)
    revocations.after_commit(session, row.prefix)
    audit.record(
        session,
        principal=principal,
        action=AuditAction.UPDATE,
        resource_type=ResourceType.API_KEY,
        resource_id=row.id,
        organisation_id=row.organisation_id,
        changes=audit.diff(before, _rotation(row)),
    )
    await session.flush()
    return row, new.key


def _rotation(row: ApiKey) -> dict[str, Any]:
    """What the audit trail records of a rotation (never a secret or its hash)."""
    return {
        "rotated_at": row.rotated_at,
        "previous_secret_expires_at": row.previous_secret_expires_at,
    }


async def find(session: AsyncSession, reference: str) -> ApiKey:
    """A key by id or prefix, for the operator's command line (no scope: the operator is global)."""
    try:
        statement = select(ApiKey).where(ApiKey.id == uuid.UUID(reference))
    except ValueError:
        statement = select(ApiKey).where(ApiKey.prefix == reference.strip())
    row = (await session.exec(statement)).first()
    if row is None:
        raise NotFound(f"No API key has the id or prefix {reference!r}.")
    return row


async def organisation_ref(session: AsyncSession, reference: str) -> uuid.UUID:
    """An organisation by id or ODS code, as people type them on the command line."""
    try:
        statement = select(Organisation.id).where(Organisation.id == uuid.UUID(reference))
    except ValueError:
        statement = select(Organisation.id).where(
            Organisation.ods_code == reference.strip().upper()
        )
    found = (await session.exec(statement)).first()
    if found is None:
        raise NotFound(f"No organisation has the id or ODS code {reference!r}.")
    return found


async def _visible_organisation(
    session: AsyncSession, principal: Principal, organisation_id: uuid.UUID
) -> bool:
    if await session.get(Organisation, organisation_id) is None:
        return False
    return await covers(reads_in(session), principal, organisation_id)


async def _in_scope(session: AsyncSession, principal: Principal, row: ApiKey) -> bool:
    if row.organisation_id is None:
        return principal.is_global
    return await covers(reads_in(session), principal, row.organisation_id)


def _public(row: ApiKey) -> dict[str, Any]:
    return {name: getattr(row, name) for name in PUBLIC_FIELDS}
