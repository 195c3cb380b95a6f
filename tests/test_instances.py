"""Two uvicorn instances on one database and one Redis, as behind a load balancer: whatever
goes through one is what the other answers with on its very next request. Keys are trusted
for ten minutes here, so nothing below passes by waiting for a cache to expire.

Each instance keeps its own caches (analyses, system claims, parsed models, verified keys):
the analysis caches are keyed on revisions the database bumps, so the other instance misses
them; the key cache is told of changes over Redis; the rate limit is counted in Redis."""

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Backend, free_port, running_server_on
from tests.helpers import EVIDENCED, create_asset, create_organisation
from tests.test_auth_tokens import ISSUER, claims, jwks, sign
from tests.test_ratelimit import REDIS_URL, own_redis_prefix

pytestmark = [pytest.mark.real_server, pytest.mark.xdist_group("instances")]

CAPABILITY = "improvement-capability"
SHARING = "interoperable-data-sharing"
# A change announced over Redis reaches the other instance within milliseconds; a key cache
# that had not heard of it would go on for the whole ten minutes.
AT_ONCE_SECONDS = 1.0
LIMIT = 1000


@dataclass
class Pair:
    a: httpx.AsyncClient
    b: httpx.AsyncClient
    admin: str


@pytest.fixture(scope="module")
async def redis_prefix() -> AsyncIterator[str]:
    """This module's own key prefix in the shared Redis, for both instances."""
    async with own_redis_prefix("instances-") as prefix:
        yield prefix


@pytest.fixture(scope="module")
async def instances(
    backend: Backend, redis_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str]]:
    """Two uvicorn processes of one worker each, started once for the module (starting one
    takes a second or two)."""
    logs = tmp_path_factory.mktemp("instances")
    keys = logs / "jwks.json"
    keys.write_text(json.dumps(jwks()))
    environment = {
        "LHS_JWT_ISSUERS": json.dumps([{"issuer": ISSUER, "jwksPath": str(keys)}]),
        "LHS_REDIS_URL": REDIS_URL,
        "LHS_RATE_LIMIT_KEY_PREFIX": redis_prefix,
        "LHS_RATE_LIMIT": f"{LIMIT}/hour",
        "LHS_API_KEY_CACHE_SECONDS": "600",
    }
    # A port range of one's own on a shared machine (else any free port).
    base = os.environ.get("LHS_TEST_INSTANCES_PORT")
    ports = [int(base), int(base) + 1] if base else [free_port(), free_port()]
    async with AsyncExitStack() as stack:
        urls = await asyncio.gather(
            *(
                stack.enter_async_context(
                    running_server_on(port, backend.url, logs / f"{name}.log", **environment)
                )
                for name, port in zip("ab", ports, strict=True)
            )
        )
        yield urls[0], urls[1]


@pytest.fixture
async def pair(
    instances: tuple[str, str], client: httpx.AsyncClient, api_key: str
) -> AsyncIterator[Pair]:
    """Clients of the two instances, acting as a global admin. Depends on ``client`` so that
    the tables are emptied after each test."""
    headers = {"Authorization": f"Bearer {api_key}"}
    async with (
        httpx.AsyncClient(base_url=instances[0], headers=headers) as a,
        httpx.AsyncClient(base_url=instances[1], headers=headers) as b,
    ):
        yield Pair(a, b, api_key)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def spread_from(api: httpx.AsyncClient, organisation_id: str) -> list[str]:
    """Who a member's analysis offers to spread the capability from."""
    body = ok(await api.get(f"/v1/organisations/{organisation_id}/gap-analysis"))
    found = next(r for r in body["recommendations"] if r["capabilityKey"] == CAPABILITY)
    return [peer["name"] for peer in found["availableInSystem"]]


async def coverage(api: httpx.AsyncClient, ics_id: str) -> Any:
    body = ok(await api.get(f"/v1/organisations/{ics_id}/gap-analysis?scope=system"))
    return next(c for c in body["capabilities"] if c["capabilityKey"] == CAPABILITY)


async def seconds_until_refused(api: httpx.AsyncClient, key: str) -> float:
    """How long after now the key (or token) is first refused (401), asking as fast as
    answers come."""
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {key}"}
    while time.monotonic() - started < 5:
        if (await api.get("/v1/organisations", headers=headers)).status_code == 401:
            return time.monotonic() - started
    return float("inf")


async def test_a_write_through_one_is_in_the_others_next_analysis_and_system_view(
    pair: Pair,
) -> None:
    ics = await create_organisation(pair.a, name="ICS", organisationType="ics")
    leeds = await create_organisation(pair.a, name="Leeds", parentId=ics["id"])
    bradford = await create_organisation(pair.a, name="Bradford", parentId=ics["id"])
    # B works out (and remembers) both views before the change.
    assert await spread_from(pair.b, leeds["id"]) == []
    before = await coverage(pair.b, ics["id"])
    assert await spread_from(pair.b, leeds["id"]) == []

    asset = await create_asset(
        pair.a, bradford["id"], area="improvement", capabilityKey=CAPABILITY, maturity=4,
        **EVIDENCED,
    )  # fmt: skip
    assert await spread_from(pair.b, leeds["id"]) == ["Bradford"]
    after = await coverage(pair.b, ics["id"])
    assert after != before

    # And back, through B this time: A's remembered analysis is not what it answers with.
    assert await spread_from(pair.a, leeds["id"]) == ["Bradford"]
    weaker = await pair.b.patch(
        f"/v1/assets/{asset['id']}", json={"maturity": 1}, headers={"If-Match": 'W/"1"'}
    )
    ok(weaker)
    assert await spread_from(pair.a, leeds["id"]) == []
    assert await coverage(pair.a, ics["id"]) == before


async def test_a_key_revoked_through_one_is_refused_by_the_other_at_once(pair: Pair) -> None:
    made = ok(await pair.a.post("/v1/api-keys", json={"name": "x", "role": "reader"}), 201)
    headers = {"Authorization": f"Bearer {made['key']}"}
    for api in (pair.a, pair.b):  # each instance now trusts it for ten minutes
        ok(await api.get("/v1/organisations", headers=headers))
    assert (await pair.a.delete(f"/v1/api-keys/{made['id']}")).status_code == 204
    assert await seconds_until_refused(pair.b, made["key"]) < AT_ONCE_SECONDS
    assert (await pair.a.get("/v1/organisations", headers=headers)).status_code == 401


async def test_a_key_deleted_with_its_organisation_is_refused_by_the_other_at_once(
    pair: Pair,
) -> None:
    trust = await create_organisation(pair.a, name="Closing Trust", odsCode="RZZ")
    made = ok(
        await pair.a.post(
            "/v1/api-keys", json={"name": "x", "role": "reader", "organisationId": trust["id"]}
        ),
        201,
    )
    headers = {"Authorization": f"Bearer {made['key']}"}
    for api in (pair.a, pair.b):
        ok(await api.get("/v1/organisations", headers=headers))
    deleted = await pair.a.delete(f"/v1/organisations/{trust['id']}", headers={"If-Match": 'W/"1"'})
    assert deleted.status_code == 204, deleted.text
    assert await seconds_until_refused(pair.b, made["key"]) < AT_ONCE_SECONDS
    assert (await pair.a.get("/v1/organisations", headers=headers)).status_code == 401


async def test_a_token_naming_an_ods_code_moved_through_one_is_refused_by_the_other_at_once(
    pair: Pair,
) -> None:
    """A token may name its organisation by ODS code, which each instance remembers resolved
    for minutes: a code that no longer names the organisation must stop acting for it."""
    leeds = await create_organisation(pair.a, name="Leeds", odsCode="RR8")
    token = sign(claims(organisation="RR8", role="reader"))
    for api in (pair.a, pair.b):
        answer = await api.get(
            f"/v1/organisations/{leeds['id']}", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text
    moved = await pair.a.patch(
        f"/v1/organisations/{leeds['id']}", json={"odsCode": "RR9"}, headers={"If-Match": 'W/"1"'}
    )
    ok(moved)
    assert await seconds_until_refused(pair.b, token) < AT_ONCE_SECONDS


async def test_a_reference_model_replaced_through_one_is_what_the_other_uses_next(
    pair: Pair,
) -> None:
    variant = "2026.1-inst"
    body = ok(await pair.a.get("/v1/reference-models/2026.1")) | {
        "version": variant,
        "basedOn": "2026.1",
        "title": "A variant",
    }
    # Ranked by the model's own weights, which the analysis then gives as each one's why.
    body["rules"] = body["rules"] | {"ranking": "weight"}
    url = f"/v1/reference-models/{variant}"
    ok(await pair.a.put(url, json=body), 201)
    org = await create_organisation(pair.a)
    analysis = f"/v1/organisations/{org['id']}/gap-analysis?referenceModel={variant}"

    def weight(answer: Any) -> float:
        found = next(r for r in answer["recommendations"] if r["capabilityKey"] == SHARING)
        return float(found["why"]["weight"])

    first = weight(ok(await pair.b.get(analysis)))
    for capability in body["capabilities"]:
        if capability["key"] == SHARING:
            capability["weight"] = 0.99
    assert first != 0.99
    ok(await pair.a.put(url, json=body, headers={"If-Match": 'W/"1"'}))
    assert weight(ok(await pair.b.get(analysis))) == 0.99
    assert ok(await pair.b.get(url))["title"] == "A variant"


async def test_the_rate_limit_is_counted_across_both(pair: Pair) -> None:
    made = ok(await pair.a.post("/v1/api-keys", json={"name": "x", "role": "reader"}), 201)
    headers = {"Authorization": f"Bearer {made['key']}"}
    remaining = []
    for api in (pair.a, pair.b) * 3:
        answer = await api.get("/v1/organisations", headers=headers)
        assert answer.status_code == 200
        assert answer.headers["ratelimit-limit"] == str(LIMIT)
        remaining.append(int(answer.headers["ratelimit-remaining"]))
    # One allowance: each request through either instance takes one from it.
    assert remaining == [LIMIT - n for n in range(1, 7)]
