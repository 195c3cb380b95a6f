"""API keys on a real database: created within the creator's power and scope, verified with one
lookup (none when seen recently), refused when unknown, wrong, revoked, expired or orphaned."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.auth import keys_service
from app.auth.authenticate import Authenticator
from app.auth.principal import OPERATOR, Principal
from app.auth.schemas import ApiKeyCreate
from app.config import Settings
from app.db import Sessions, utcnow
from app.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from app.pagination import PageParams
from app.vocabulary import PrincipalKind, Role
from tests.auth_helpers import make_key
from tests.conftest import Backend, QueryCounter, snapshot
from tests.helpers import create_organisation


def sessions_of(backend: Backend) -> Sessions:
    sessions: Sessions = backend.app.state.sessions
    return sessions


def authenticator(backend: Backend, ttl: float = 30.0) -> Authenticator:
    return Authenticator(Settings(database_url=backend.url, api_key_cache_seconds=ttl))


async def tree(client: httpx.AsyncClient) -> dict[str, uuid.UUID]:
    """Two ICSs, a trust in the first."""
    ics = await create_organisation(client, name="ICS A", organisationType="ics", odsCode="QA1")
    other = await create_organisation(client, name="ICS B", organisationType="ics", odsCode="QB1")
    trust = await create_organisation(client, name="Trust A", odsCode="RA1", parentId=ics["id"])
    return {
        name: uuid.UUID(org["id"])
        for name, org in (("ics", ics), ("other", other), ("trust", trust))
    }


def as_key(role: Role, organisation_id: uuid.UUID | None) -> Principal:
    return Principal(
        subject="lhs_000000000000",
        kind=PrincipalKind.API_KEY,
        role=role,
        organisation_id=organisation_id,
    )


async def test_a_key_authenticates_with_its_role_and_scope(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    orgs = await tree(client)
    row, key = await make_key(sessions_of(backend), "editor", orgs["ics"])
    principal = await authenticator(backend).authenticate(
        sessions_of(backend).reads, f"Bearer {key}"
    )
    assert principal == Principal(
        subject=row.prefix,
        kind=PrincipalKind.API_KEY,
        role=Role.EDITOR,
        organisation_id=orgs["ics"],
        key_id=row.id,
    )
    assert key.startswith(row.prefix + "_")


async def test_the_secret_is_stored_nowhere(client: httpx.AsyncClient, backend: Backend) -> None:
    row, key = await make_key(sessions_of(backend), "admin")
    secret = key[len(row.prefix) + 1 :]
    assert len(secret) == 43
    everything = repr(await snapshot(backend.engine))
    async with backend.engine.connect() as connection:
        keys_table = repr((await connection.execute(text("SELECT * FROM api_key"))).all())
        events = repr((await connection.execute(text("SELECT * FROM audit_event"))).all())
    for stored in (everything, keys_table, events):
        assert secret not in stored
        assert key not in stored


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "needs credentials"),
        ("Basic dXNlcjpwYXNz", "Bearer scheme"),
        ("Bearer ", "Bearer scheme"),
        ("Bearer lhs_nothex", "malformed"),
        ("Bearer lhs_0123456789ab_" + "a" * 43, "not valid"),  # no such prefix
    ],
)
async def test_missing_and_unknown_keys_are_refused(
    backend: Backend, header: str | None, message: str
) -> None:
    with pytest.raises(Unauthenticated, match=message) as refused:
        await authenticator(backend).authenticate(sessions_of(backend).reads, header)
    assert refused.value.headers["WWW-Authenticate"] == "Bearer"


async def test_a_tampered_secret_is_refused_even_when_the_key_is_cached(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, key = await make_key(sessions_of(backend), "reader")
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    fresh, warm = authenticator(backend), authenticator(backend)
    with pytest.raises(Unauthenticated, match="not valid"):
        await fresh.authenticate(sessions_of(backend).reads, f"Bearer {tampered}")
    await warm.authenticate(sessions_of(backend).reads, f"Bearer {key}")
    with pytest.raises(Unauthenticated, match="not valid"):
        await warm.authenticate(sessions_of(backend).reads, f"Bearer {tampered}")


async def test_revoked_and_expired_keys_are_refused(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    sessions = sessions_of(backend)
    revoked, revoked_key = await make_key(sessions, "reader")
    async with sessions.write() as session:
        await keys_service.revoke(session, principal=OPERATOR, key_id=revoked.id)
        await session.commit()
    with pytest.raises(Unauthenticated, match="revoked"):
        await authenticator(backend).authenticate(sessions.reads, f"Bearer {revoked_key}")

    _, soon_key = await make_key(sessions, "reader", expires_at=utcnow() + timedelta(seconds=1))
    warm = authenticator(backend)
    await warm.authenticate(sessions.reads, f"Bearer {soon_key}")
    await asyncio.sleep(1.1)
    with pytest.raises(Unauthenticated, match="expired"):  # also from the cache
        await warm.authenticate(sessions.reads, f"Bearer {soon_key}")
    with pytest.raises(Unauthenticated, match="expired"):
        await authenticator(backend).authenticate(sessions.reads, f"Bearer {soon_key}")


async def test_a_recently_seen_key_costs_no_database_round_trip(
    client: httpx.AsyncClient, backend: Backend, queries: QueryCounter
) -> None:
    _, key = await make_key(sessions_of(backend), "reader")
    auth = authenticator(backend)
    queries.statements.clear()
    await auth.authenticate(sessions_of(backend).reads, f"Bearer {key}")
    first = queries.count
    assert first >= 1
    for _ in range(5):
        await auth.authenticate(sessions_of(backend).reads, f"Bearer {key}")
    assert queries.count == first


async def test_revocation_works_here_at_once_and_elsewhere_within_the_cache_bound(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    sessions = sessions_of(backend)
    row, key = await make_key(sessions, "reader")
    here = authenticator(backend, ttl=30)
    await here.authenticate(sessions.reads, f"Bearer {key}")
    async with sessions.write() as session:
        await keys_service.revoke(session, principal=OPERATOR, key_id=row.id)
        await session.commit()
    with pytest.raises(Unauthenticated, match="revoked"):
        await here.authenticate(sessions.reads, f"Bearer {key}")

    # Another instance revokes a second key: this one finds out when its cache entry expires.
    other_row, other_key = await make_key(sessions, "reader")
    elsewhere = authenticator(backend, ttl=0.5)
    await elsewhere.authenticate(sessions.reads, f"Bearer {other_key}")
    async with backend.engine.begin() as connection:
        await connection.execute(
            text("UPDATE api_key SET revoked_at = created_at WHERE id = :id"),
            {"id": other_row.id.hex if backend.name == "sqlite" else other_row.id},
        )
    assert (
        await elsewhere.authenticate(sessions.reads, f"Bearer {other_key}")
    ).key_id == other_row.id
    await asyncio.sleep(0.6)
    with pytest.raises(Unauthenticated, match="revoked"):
        await elsewhere.authenticate(sessions.reads, f"Bearer {other_key}")


async def test_a_key_scoped_to_a_deleted_organisation_stops_working(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="Gone ICS", organisationType="ics")
    _, key = await make_key(sessions_of(backend), "admin", ics["id"])
    deleted = await client.delete(f"/v1/organisations/{ics['id']}", headers={"If-Match": "*"})
    assert deleted.status_code == 204
    with pytest.raises(Unauthenticated, match="not valid"):
        await authenticator(backend).authenticate(sessions_of(backend).reads, f"Bearer {key}")


# What the API passes: the configured maximum lifetime (the command line passes None).
API: dict[str, Any] = {"max_lifetime": timedelta(days=365)}


def create_data(role: str, organisation_id: uuid.UUID | None) -> ApiKeyCreate:
    return ApiKeyCreate.model_validate(
        {
            "name": "k",
            "role": role,
            "organisationId": str(organisation_id) if organisation_id else None,
        }
    )


async def test_an_admin_mints_keys_only_within_its_power_and_scope(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    orgs = await tree(client)
    ics_admin, ics_editor = as_key(Role.ADMIN, orgs["ics"]), as_key(Role.EDITOR, orgs["ics"])
    async with sessions_of(backend).write() as session:
        row, _ = await keys_service.create(
            session, principal=ics_admin, data=create_data("editor", orgs["trust"]), **API
        )
        assert row.organisation_id == orgs["trust"]
        assert row.created_by == "lhs_000000000000"
        row, _ = await keys_service.create(
            session, principal=ics_admin, data=create_data("admin", orgs["ics"]), **API
        )
        with pytest.raises(Forbidden, match="wider scope"):
            await keys_service.create(
                session, principal=ics_admin, data=create_data("reader", None), **API
            )
        with pytest.raises(Forbidden, match="Only admins"):
            await keys_service.create(
                session, principal=ics_editor, data=create_data("reader", orgs["trust"]), **API
            )
        # Another ICS and no organisation at all get the same answer: scope cannot be probed.
        answers = []
        for target in (orgs["other"], uuid.uuid4()):
            with pytest.raises(ValidationFailed) as refused:
                await keys_service.create(
                    session, principal=ics_admin, data=create_data("reader", target), **API
                )
            answers.append((refused.value.detail, refused.value.errors[0].field))
        assert (
            answers[0] == answers[1] == ("The organisation does not exist.", ("organisation_id",))
        )
        past = ApiKeyCreate.model_validate(
            {"name": "k", "role": "reader", "expiresAt": "2020-01-01T00:00:00Z"}
        )
        with pytest.raises(ValidationFailed, match="past"):
            await keys_service.create(session, principal=OPERATOR, data=past, max_lifetime=None)
        await session.commit()


async def test_keys_are_listed_and_revoked_within_scope_only(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    orgs = await tree(client)
    sessions = sessions_of(backend)
    global_key, _ = await make_key(sessions, "admin")
    ics_key, _ = await make_key(sessions, "reader", orgs["ics"])
    trust_key, _ = await make_key(sessions, "reader", orgs["trust"])
    other_key, _ = await make_key(sessions, "reader", orgs["other"])
    ics_admin = as_key(Role.ADMIN, orgs["ics"])
    async with sessions.read() as session:
        everything = await keys_service.list_page(session, principal=OPERATOR, page=PageParams())
        seen = await keys_service.list_page(session, principal=ics_admin, page=PageParams())
        first = await keys_service.list_page(session, principal=ics_admin, page=PageParams(limit=1))
        with pytest.raises(Forbidden):
            await keys_service.list_page(
                session, principal=as_key(Role.EDITOR, None), page=PageParams()
            )
    mine = [global_key.id, ics_key.id, trust_key.id, other_key.id]
    assert [k.id for k in everything if k.name != "test suite"] == mine  # the suite's own key
    assert [k.id for k in seen] == [ics_key.id, trust_key.id]
    assert [k.id for k in first] == [ics_key.id, trust_key.id]  # the page and its look-ahead row

    async with sessions.write() as session:
        for hidden in (global_key.id, other_key.id, uuid.uuid4()):
            with pytest.raises(NotFound):
                await keys_service.revoke(session, principal=ics_admin, key_id=hidden)
        assert await keys_service.revoke(session, principal=ics_admin, key_id=trust_key.id)
        assert not await keys_service.revoke(session, principal=ics_admin, key_id=trust_key.id)
        await session.commit()


async def test_an_organisation_is_named_by_id_or_ods_code(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    orgs = await tree(client)
    async with sessions_of(backend).read() as session:
        assert await keys_service.organisation_ref(session, "ra1") == orgs["trust"]
        assert await keys_service.organisation_ref(session, str(orgs["ics"])) == orgs["ics"]
        with pytest.raises(NotFound, match="ZZZ"):
            await keys_service.organisation_ref(session, "ZZZ")
