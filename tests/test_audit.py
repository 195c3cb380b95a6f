"""The audit trail on a real database: written in the change's own transaction, filtered
within the caller's scope, never holding a secret, kept after its organisation is deleted."""

import uuid
from datetime import timedelta

import httpx
from sqlmodel import select

from app.audit import service as audit
from app.auth import keys_service
from app.auth.principal import OPERATOR, Principal
from app.db import utcnow
from app.logs import request_id_var
from app.models import ApiKey, AuditEvent
from app.pagination import PageParams
from app.vocabulary import AuditAction, PrincipalKind, ResourceType, Role
from tests.auth_helpers import make_key
from tests.conftest import Backend
from tests.helpers import create_organisation
from tests.test_auth_keys import sessions_of


def _suite_key(event: AuditEvent) -> bool:
    """The event of the key the test suite itself acts with (tests/conftest.py)."""
    return event.resource_type == ResourceType.API_KEY and any(
        change["field"] == "name" and change["after"] == "test suite" for change in event.changes
    )


async def events(backend: Backend, resource_type: ResourceType | None = None) -> list[AuditEvent]:
    async with sessions_of(backend).read() as session:
        statement = select(AuditEvent).order_by(AuditEvent.occurred_at)  # type: ignore[arg-type]
        found = (await session.exec(statement)).all()
    return [
        event
        for event in found
        if not _suite_key(event) and resource_type in (None, event.resource_type)
    ]


async def test_creating_and_revoking_a_key_are_audited(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    token = request_id_var.set("req-123")
    try:
        row, _ = await make_key(sessions_of(backend), "editor", ics["id"], name="portal")
    finally:
        request_id_var.reset(token)
    async with sessions_of(backend).write() as session:
        await keys_service.revoke(session, principal=OPERATOR, key_id=row.id)
        await session.commit()
    created, revoked = await events(backend, ResourceType.API_KEY)
    assert (created.actor, created.actor_kind, created.action) == ("operator", "operator", "create")
    assert (created.resource_type, created.resource_id) == ("api_key", str(row.id))
    assert created.organisation_id == uuid.UUID(ics["id"])
    assert created.request_id == "req-123"
    assert {c["field"]: c["after"] for c in created.changes} == {
        "name": "portal",
        "prefix": row.prefix,
        "role": "editor",
        "organisation_id": ics["id"],
        "created_by": "operator",
    }
    assert revoked.action == "update"
    assert revoked.request_id is None
    assert [c["field"] for c in revoked.changes] == ["revoked_at"]
    assert revoked.changes[0]["before"] is None
    assert revoked.changes[0]["after"]


async def test_no_change_without_its_event_and_no_event_without_its_change(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    from app.auth.schemas import ApiKeyCreate

    async with sessions_of(backend).write() as session:
        await keys_service.create(
            session,
            principal=OPERATOR,
            data=ApiKeyCreate.model_validate({"name": "k", "role": "reader"}),
            max_lifetime=None,
        )
        await session.rollback()  # the request failed after the use case
    async with sessions_of(backend).read() as session:
        keys = (await session.exec(select(ApiKey))).all()
        assert [key.name for key in keys] == ["test suite"]
    assert await events(backend) == []


async def test_secrets_never_reach_the_trail(client: httpx.AsyncClient, backend: Backend) -> None:
    async with sessions_of(backend).write() as session:
        audit.record(
            session,
            principal=OPERATOR,
            action=AuditAction.UPDATE,
            resource_type=ResourceType.API_KEY,
            resource_id="x",
            organisation_id=None,
            changes=[
                {"field": "secret_hash", "before": "a", "after": "b"},
                {"field": "name", "before": "a", "after": "b"},
            ],
        )
        await session.commit()
    (event,) = await events(backend)
    assert event.changes == [{"field": "name", "before": "a", "after": "b"}]


async def test_events_are_filtered_within_scope_and_outlive_their_organisation(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, name="Trust", parentId=ics["id"])
    other = await create_organisation(client, name="Other ICS", organisationType="ics")
    sessions = sessions_of(backend)
    start = utcnow()
    in_trust, _ = await make_key(sessions, "reader", trust["id"])
    in_other, _ = await make_key(sessions, "reader", other["id"])
    global_key, _ = await make_key(sessions, "admin")
    ics_admin = Principal(
        subject="lhs_aaaaaaaaaaaa",
        kind=PrincipalKind.API_KEY,
        role=Role.ADMIN,
        organisation_id=uuid.UUID(ics["id"]),
    )

    async def ids(principal: Principal, **filters: object) -> list[str]:
        # The keys' events: the organisations above were made (and audited) before ``start``.
        filters.setdefault("since", start)
        filters.setdefault("resource_type", ResourceType.API_KEY)
        async with sessions.read() as session:
            found = await audit.list_page(
                session,
                principal=principal,
                page=PageParams(),
                **filters,  # type: ignore[arg-type]
            )
        return [event.resource_id for event in found]

    everything = [str(k.id) for k in (in_trust, in_other, global_key)]
    assert await ids(OPERATOR) == everything
    assert await ids(ics_admin) == [str(in_trust.id)]
    assert await ids(OPERATOR, organisation_id=uuid.UUID(other["id"])) == [str(in_other.id)]
    assert await ids(OPERATOR, resource_type=ResourceType.ORGANISATION) == []
    assert await ids(OPERATOR, resource_id=str(global_key.id)) == [str(global_key.id)]
    assert await ids(OPERATOR, actor="operator") == everything
    assert await ids(OPERATOR, actor="someone else") == []
    assert await ids(OPERATOR, since=start) == everything
    assert await ids(OPERATOR, since=utcnow() + timedelta(seconds=1)) == []

    # The organisation goes (and its keys with it); the events about them stay.
    deleted = await client.delete(f"/v1/organisations/{other['id']}", headers={"If-Match": "*"})
    assert deleted.status_code == 204
    # Its key went by the cascade, which the trail records as the key's deletion.
    assert await ids(OPERATOR) == [*everything, str(in_other.id)]
    assert await ids(OPERATOR, action=AuditAction.DELETE) == [str(in_other.id)]
