"""The audit trail: who changed what, which fields, when, under which request; and who took
which data out.

``record`` adds the event to the caller's session and never commits: the request's unit of
work commits it together with the change it describes, so there is no change without its event
and no event without its change. An export changes nothing, so ``exported`` commits its event
alone, before the export's first byte.
"""

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Table
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.principal import Principal
from app.db import ReadContext, fetch_in_transaction, side_transaction
from app.logs import request_id_var
from app.models import AuditEvent
from app.organisations import hierarchy
from app.pagination import PageParams, keyset
from app.vocabulary import AuditAction, ResourceType

# Never written to the trail, whatever a caller passes: secrets and their hashes.
SECRET_FIELDS = frozenset({"secret_hash", "secret", "key", "password", "token"})
# Bookkeeping that changes with every write and says nothing about the change itself.
IGNORED_FIELDS = frozenset({"version", "row_version", "updated_at", "created_at"})


def plain(value: Any) -> Any:
    """A JSON-safe copy: ids and times as text, enums as their values."""
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{field, before, after}]`` for each field whose value differs, in field order.

    A create diffs against ``{}`` and a delete against ``{}`` on the other side: absent
    fields read as None. Secret and bookkeeping fields are left out.
    """
    changes = []
    for field in dict.fromkeys([*before, *after]):
        if field in SECRET_FIELDS or field in IGNORED_FIELDS:
            continue
        old, new = plain(before.get(field)), plain(after.get(field))
        if old != new:
            changes.append({"field": field, "before": old, "after": new})
    return changes


def record(
    session: AsyncSession,
    *,
    principal: Principal,
    action: AuditAction,
    resource_type: ResourceType,
    resource_id: uuid.UUID | str,
    organisation_id: uuid.UUID | None,
    changes: list[dict[str, Any]],
    version: int | None = None,
    parent_organisation_id: uuid.UUID | None = None,
) -> AuditEvent:
    """Add the event to the session; the caller's transaction commits it with the change.

    This is also the one write path of the change feed (app.changes): the database gives the
    event its feed position as the transaction commits. ``version`` is the record's version
    after the change; ``parent_organisation_id`` only for deletions of an organisation and of
    its records (see ``organisation_deleted``), and for an organisation's move (the parent it
    left, see ``row_change``)."""
    request_id = request_id_var.get()
    event = AuditEvent(
        actor=principal.subject,
        actor_kind=principal.kind,
        request_id=None if request_id == "-" else request_id,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id),
        organisation_id=organisation_id,
        changes=[c for c in changes if c.get("field") not in SECRET_FIELDS],
        version=version,
        parent_organisation_id=parent_organisation_id,
    )
    session.add(event)
    return event


def version_of(row: Any) -> int | None:
    """A record's version (a reference model's is ``row_version``: its ``version`` is its
    name), or None for a row that has none."""
    value = getattr(row, "row_version", getattr(row, "version", None))
    return value if isinstance(value, int) else None


def row_change(
    session: AsyncSession,
    principal: Principal,
    action: AuditAction,
    resource_type: ResourceType,
    row: Any,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> AuditEvent:
    """The event for a change to a record of an organisation (its own id when it is one).

    An organisation's move names the parent it left (``parent_organisation_id``), so that the
    change feed shows the move to callers scoped above that parent: the organisation has just
    left their scope, and a mirror of it must learn to drop it."""
    moved_from = None
    if resource_type is ResourceType.ORGANISATION and before.get("parent_id") != after.get(
        "parent_id"
    ):
        moved_from = before.get("parent_id")
    return record(
        session,
        principal=principal,
        action=action,
        resource_type=resource_type,
        resource_id=row.id,
        organisation_id=getattr(row, "organisation_id", row.id),
        changes=diff(before, after),
        version=version_of(row),
        parent_organisation_id=moved_from,
    )


def _cascading_tables() -> list[tuple[ResourceType, Table]]:
    """The tables of records that an organisation's deletion removes by ON DELETE CASCADE on
    their ``organisation_id``, and whose table name is a resource type: read from the schema,
    so a new resource that cascades is covered without code here."""
    found = []
    for table in AuditEvent.metadata.sorted_tables:
        column = table.c.get("organisation_id")
        if column is None or table.name not in {t.value for t in ResourceType}:
            continue
        if any(
            fk.column.table.name == "organisation" and fk.ondelete == "CASCADE"
            for fk in column.foreign_keys
        ):
            found.append((ResourceType(table.name), table))
    return found


async def organisation_deleted(
    session: AsyncSession, principal: Principal, organisation: Any, before: Mapping[str, Any]
) -> None:
    """Put an organisation's deletion on record, with a deletion of each record its cascade
    is about to remove (assets, activities, plan items...): the database deletes those
    without the application seeing them, and a mirror following the change feed must drop
    them too. Call it before deleting the organisation, in the same unit of work."""
    parent = organisation.parent_id
    for resource_type, table in _cascading_tables():
        version = table.c.get("version", table.c.get("row_version"))
        columns = [table.c.id] + ([version] if version is not None else [])
        rows = await fetch_in_transaction(
            session, select(*columns).where(table.c.organisation_id == organisation.id)
        )
        for row in rows:
            record(
                session,
                principal=principal,
                action=AuditAction.DELETE,
                resource_type=resource_type,
                resource_id=row[0],
                organisation_id=organisation.id,
                changes=[],
                version=row[1] if len(row) > 1 else None,
                parent_organisation_id=parent,
            )
    record(
        session,
        principal=principal,
        action=AuditAction.DELETE,
        resource_type=ResourceType.ORGANISATION,
        resource_id=organisation.id,
        organisation_id=organisation.id,
        changes=diff(before, {}),
        version=version_of(organisation),
        parent_organisation_id=parent,
    )


# The resource of an export of every organisation's records.
EVERY_ORGANISATION = "all"


async def exported(
    reads: ReadContext,
    *,
    principal: Principal,
    resource_type: ResourceType,
    organisation_id: uuid.UUID | None,
    details: Mapping[str, Any],
) -> None:
    """Put an export on record: what was read out (``resource_type``) of which organisation
    (None: of every one, by a global caller; its resource is then ``all``), and how
    (``details``: its format, its depth or scope, its filters), as ``changes``.

    Called once the caller's access has been checked and before the first byte is sent. The
    event is committed here, in a short write transaction of its own, not in the request's
    session: an export is a GET, whose session is a reading one (autocommit on PostgreSQL, no
    write lock taken at BEGIN on SQLite); the export routes read through snapshots of their
    own, not that session; and the CLI has no request at all. Committed before the rows go
    out, an export that dies midway is still on record, and no transaction is held open while
    they stream."""
    async with side_transaction(reads.factory()) as session:
        record(
            session,
            principal=principal,
            action=AuditAction.EXPORT,
            resource_type=resource_type,
            resource_id=organisation_id or EVERY_ORGANISATION,
            organisation_id=organisation_id,
            changes=diff({}, details),
        )


async def list_page(
    session: AsyncSession,
    *,
    principal: Principal,
    page: PageParams,
    organisation_id: uuid.UUID | None = None,
    action: AuditAction | None = None,
    resource_type: ResourceType | None = None,
    resource_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
) -> Sequence[AuditEvent]:
    """Events in the caller's scope, oldest first. A scoped caller sees the events of the
    organisations now in its subtree; events of deleted organisations only global callers see."""
    statement = select(AuditEvent)
    if principal.organisation_id is not None:
        tree = hierarchy.descendants(principal.organisation_id)
        statement = statement.where(col(AuditEvent.organisation_id).in_(select(tree.c.id)))
    if organisation_id is not None:
        statement = statement.where(AuditEvent.organisation_id == organisation_id)
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    if resource_type is not None:
        statement = statement.where(AuditEvent.resource_type == resource_type)
    if resource_id is not None:
        statement = statement.where(AuditEvent.resource_id == resource_id)
    if actor is not None:
        statement = statement.where(AuditEvent.actor == actor)
    if since is not None:
        statement = statement.where(col(AuditEvent.occurred_at) >= since)
    statement = keyset(
        statement, created_at=col(AuditEvent.occurred_at), row_id=col(AuditEvent.id), params=page
    )
    return (await session.exec(statement)).all()
