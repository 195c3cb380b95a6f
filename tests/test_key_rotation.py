"""Keys that rotate and show when they were last used (SQLite and PostgreSQL): a new secret for
the same key, the old one kept for the grace period asked for and refused after it, the expiry
never moved; lastUsedAt written beside the request, at most once a minute per key."""

import asyncio
import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import update
from sqlmodel import col

from app.auth import keys, usage
from app.db import utcnow
from app.models import ApiKey
from tests.auth_helpers import make_key
from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, run_cli
from tests.test_auth_keys import sessions_of


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def new_key(client: httpx.AsyncClient) -> dict[str, str]:
    made = await client.post("/v1/api-keys", json={"name": "portal", "role": "reader"})
    assert made.status_code == 201, made.text
    return dict(made.json())


async def whoami(client: httpx.AsyncClient, key: str) -> int:
    answer = await client.get("/v1/organisations", headers=bearer(key))
    return answer.status_code


async def test_a_rotated_key_keeps_its_identity_and_expiry_and_both_secrets_work_for_the_grace(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made = await new_key(client)
    assert await whoami(client, made["key"]) == 200  # cached with its first secret
    rotated = await client.post(
        f"/v1/api-keys/{made['id']}/rotate", json={"gracePeriodSeconds": 600}
    )
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["key"] != made["key"]
    for field in ("id", "prefix", "role", "organisationId", "expiresAt", "createdAt"):
        assert body[field] == made[field], field
    assert body["key"].startswith(made["prefix"] + "_")
    assert body["rotatedAt"] is not None
    until = body["previousSecretExpiresAt"]
    gap = keys_moment(until) - keys_moment(body["rotatedAt"])
    assert gap == timedelta(seconds=600)
    assert await whoami(client, made["key"]) == 200
    assert await whoami(client, body["key"]) == 200

    events = await client.get(
        "/v1/audit-events",
        params={"resourceType": "api_key", "resourceId": made["id"], "action": "update"},
    )
    (event,) = events.json()["items"]
    changed = {change["field"]: change["after"] for change in event["changes"]}
    assert set(changed) == {"rotated_at", "previous_secret_expires_at"}
    assert "hash" not in events.text

    # The grace period is over: the old secret is refused, the new one still works.
    async with backend.engine.begin() as connection:
        await connection.execute(
            update(ApiKey)
            .where(col(ApiKey.prefix) == made["prefix"])
            .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
        )
    # This process's cache still holds the old end of grace: it is what is checked there too.
    backend.app.state.authenticator.cache.evict(made["prefix"])
    assert await whoami(client, made["key"]) == 401
    assert await whoami(client, body["key"]) == 200


def keys_moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_without_a_grace_period_the_old_secret_is_refused_at_once(
    client: httpx.AsyncClient,
) -> None:
    made = await new_key(client)
    assert await whoami(client, made["key"]) == 200
    rotated = await client.post(f"/v1/api-keys/{made['id']}/rotate", json={"gracePeriodSeconds": 0})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["previousSecretExpiresAt"] is None
    assert await whoami(client, made["key"]) == 401
    assert await whoami(client, rotated.json()["key"]) == 200
    # A second rotation replaces the secret again; the one before it never comes back.
    again = await client.post(f"/v1/api-keys/{made['id']}/rotate")
    assert again.status_code == 200, again.text
    assert await whoami(client, rotated.json()["key"]) == 200  # the default grace: an hour
    assert await whoami(client, made["key"]) == 401


async def test_two_rotations_at_once_take_turns_and_both_secrets_work(
    client: httpx.AsyncClient,
) -> None:
    """Each rotation reads the secret the other left: the later one keeps the earlier one's
    secret for its grace, so neither caller is handed a secret that never works."""
    made = await new_key(client)
    url = f"/v1/api-keys/{made['id']}/rotate"
    first, second = await asyncio.gather(
        client.post(url, json={"gracePeriodSeconds": 600}),
        client.post(url, json={"gracePeriodSeconds": 600}),
    )
    assert (first.status_code, second.status_code) == (200, 200), first.text + second.text
    assert await whoami(client, first.json()["key"]) == 200
    assert await whoami(client, second.json()["key"]) == 200
    # A key keeps at most two secrets: the one both rotations replaced is gone.
    assert await whoami(client, made["key"]) == 401


async def test_a_grace_period_past_a_day_or_a_revoked_key_is_refused_and_nothing_written(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made = await new_key(client)
    before = await snapshot(backend.engine)
    too_long = await client.post(
        f"/v1/api-keys/{made['id']}/rotate", json={"gracePeriodSeconds": 86401}
    )
    problem = assert_problem(too_long, 422, "VALIDATION_FAILED")
    assert problem["errors"][0]["pointer"] == "#/gracePeriodSeconds"
    assert await snapshot(backend.engine) == before

    revoked = await client.delete(f"/v1/api-keys/{made['id']}")
    assert revoked.status_code == 204
    before = await snapshot(backend.engine)
    refused = await client.post(f"/v1/api-keys/{made['id']}/rotate")
    assert_problem(refused, 409, "CONFLICT")
    assert await snapshot(backend.engine) == before


async def test_the_grace_period_never_outlives_the_key(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    soon = utcnow() + timedelta(minutes=5)
    row, _ = await make_key(sessions_of(backend), "reader", expires_at=soon)
    rotated = await client.post(f"/v1/api-keys/{row.id}/rotate", json={"gracePeriodSeconds": 86400})
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert abs(keys_moment(body["expiresAt"]) - soon) < timedelta(milliseconds=1)
    assert keys_moment(body["previousSecretExpiresAt"]) == keys_moment(body["expiresAt"])


def test_a_secret_is_accepted_as_current_or_as_the_previous_one_within_its_grace() -> None:
    now = utcnow()
    current, previous = keys.generate(), keys.generate("lhs_0123456789ab")
    secret = current.key.removeprefix(current.prefix + "_")
    old = previous.key.removeprefix(previous.prefix + "_")
    later = now + timedelta(minutes=1)
    assert keys.accepts(secret, current.secret_hash, None, None, now=now)
    assert keys.accepts(old, current.secret_hash, previous.secret_hash, later, now=now)
    assert not keys.accepts(old, current.secret_hash, previous.secret_hash, now, now=now)
    assert not keys.accepts(old, current.secret_hash, previous.secret_hash, None, now=now)
    assert not keys.accepts(old, current.secret_hash, None, later, now=now)
    assert previous.key.startswith("lhs_0123456789ab_")


async def test_last_use_is_recorded_beside_the_request_at_most_once_a_minute(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made = await new_key(client)
    assert made["lastUsedAt"] is None
    recorder = backend.app.state.authenticator.usage
    assert await whoami(client, made["key"]) == 200
    await recorder.drain()
    first = (await client.get(f"/v1/api-keys/{made['id']}")).json()["lastUsedAt"]
    assert first is not None
    assert await whoami(client, made["key"]) == 200
    await recorder.drain()
    assert (await client.get(f"/v1/api-keys/{made['id']}")).json()["lastUsedAt"] == first

    # Another process (or this one, once the minute has passed) writes only a minute on.
    sessions = sessions_of(backend)
    moment = keys_moment(first)
    await usage.record(sessions, made_id(made), moment + timedelta(seconds=30))
    assert (await client.get(f"/v1/api-keys/{made['id']}")).json()["lastUsedAt"] == first
    await usage.record(sessions, made_id(made), moment + usage.INTERVAL)
    later = (await client.get(f"/v1/api-keys/{made['id']}")).json()["lastUsedAt"]
    assert keys_moment(later) == moment + usage.INTERVAL


def made_id(made: dict[str, str]) -> uuid.UUID:
    return uuid.UUID(made["id"])


async def test_without_redis_a_revocation_says_how_long_others_may_accept_the_key(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made = await new_key(client)
    revoked = await client.delete(f"/v1/api-keys/{made['id']}")
    assert revoked.status_code == 204
    seconds = backend.app.state.settings.api_key_cache_seconds
    assert revoked.headers["LHS-Propagation-Delay"] == f"{seconds:g}"
    assert await whoami(client, made["key"]) == 401


async def test_the_rotate_answer_without_redis_says_so_too(client: httpx.AsyncClient) -> None:
    made = await new_key(client)
    rotated = await client.post(f"/v1/api-keys/{made['id']}/rotate", json={"gracePeriodSeconds": 0})
    assert rotated.status_code == 200
    assert rotated.headers["LHS-Propagation-Delay"] == "30"


async def test_the_command_line_rotates_and_says_how_long_others_may_trust_a_revoked_key(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    row, old_key = await make_key(sessions_of(backend), "reader", name="rotated on the CLI")
    rotated = await run_cli(backend.url, "rotate-api-key", row.prefix, "--grace-period", "120")
    assert rotated.returncode == 0, rotated.stderr
    new_key = rotated.stdout.strip()
    assert new_key.startswith(row.prefix + "_")
    assert new_key != old_key
    assert "the old secret works until" in rotated.stderr
    assert await whoami(client, old_key) == 200
    assert await whoami(client, new_key) == 200

    too_long = await run_cli(backend.url, "rotate-api-key", row.prefix, "--grace-period", "90000")
    assert too_long.returncode != 0
    assert "86400" in too_long.stderr

    revoked = await run_cli(backend.url, "revoke-api-key", row.prefix)
    assert revoked.returncode == 0, revoked.stderr
    message = " ".join(revoked.stderr.split())
    assert f"Revoked {row.prefix}." in message
    assert "may still accept it as it was for up to 30 seconds" in message
    assert "LHS_REDIS_URL" in message
    assert await whoami(client, new_key) == 401
