"""A fixture world for tenancy tests, built once per backend and module through the public API.

    Omega Region (R)                 a shared, evidenced platform every member inherits
    ├── Alpha ICS (A)                a shared asset; a variant model of its own
    │   ├── Alpha Trust One (A1)     assets, an activity, two assessments
    │   └── Alpha Trust Two (A2)     a peer: it has what A1 lacks (availableInSystem)
    └── Zeta ICS (B)                 the sibling: a shared asset; a variant model of its own
        └── Zeta Trust (B1)          what A1 lacks too (a peer for global callers only)

Keys: reader, editor and admin scoped to A, the same three global, an admin scoped to B and
a reader and an admin scoped to A1. Everything in the region and in B carries a name starting
with "Omega" or "Zeta", so a body can be searched for what a caller of A must never see.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.reference.service import shipped_models
from tests.auth_helpers import make_key
from tests.conftest import Backend, empty_tables
from tests.helpers import EVIDENCED, create_activity, create_asset, create_organisation

ROLES = ("reader", "editor", "admin")
BASE = "2026.1"
Json = dict[str, Any]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def variant_body(version: str, title: str) -> Json:
    """The shipped default model as a variant: a valid PUT body."""
    model = next(m for m in shipped_models() if m.version == BASE)
    return model.model_dump(mode="json", by_alias=True) | {
        "version": version,
        "basedOn": BASE,
        "title": title,
    }


@dataclass
class World:
    backend: Backend
    http: httpx.AsyncClient  # no credentials of its own: every call names its caller
    orgs: dict[str, Json] = field(default_factory=dict)
    assets: dict[str, Json] = field(default_factory=dict)
    activities: dict[str, Json] = field(default_factory=dict)
    plan_items: dict[str, Json] = field(default_factory=dict)
    assessments: dict[str, list[Json]] = field(default_factory=dict)
    variants: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # "a-reader", "global-admin", ... -> key
    key_ids: dict[str, str] = field(default_factory=dict)
    key_prefixes: dict[str, str] = field(default_factory=dict)
    # Ids a caller of A must never meet in a successful answer (names start with Omega/Zeta).
    hidden_ids: set[str] = field(default_factory=set)

    def org(self, name: str) -> str:
        return str(self.orgs[name]["id"])

    def as_(self, who: str) -> dict[str, str]:
        return bearer(self.keys[who])

    async def call(self, who: str | None, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if who is not None:
            headers |= self.as_(who)
        return await self.http.request(method, url, headers=headers, **kwargs)

    async def admin(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self.call("global-admin", method, url, **kwargs)

    def leaks(self, body: str, sent: str = "") -> list[str]:
        """What in a body names something outside ICS A: a hidden id, or an Omega/Zeta name.
        What the caller sent itself (``sent``: an id in a filter, echoed in links) is not."""
        found = [hidden for hidden in self.hidden_ids if hidden in body and hidden not in sent]
        return found + [word for word in ("Omega", "Zeta", "-tnb") if word in body]


async def _key(world: World, name: str, role: str, organisation: str | None) -> None:
    org_id = world.org(organisation) if organisation else None
    row, key = await make_key(world.backend.app.state.sessions, role, org_id, name=f"{name} key")
    world.keys[name], world.key_ids[name], world.key_prefixes[name] = key, str(row.id), row.prefix


async def _assessments(world: World, who: str, organisation: str) -> list[Json]:
    url = f"/v1/organisations/{world.org(organisation)}/assessments"
    made = []
    for label in ("baseline", "follow-up"):
        response = await world.call(who, "POST", url, json={"label": label})
        assert response.status_code == 201, response.text
        made.append(dict(response.json()))
    return made


async def build(backend: Backend) -> AsyncIterator[World]:
    """The world for one module on one backend; its tables are emptied afterwards."""
    transport = httpx.ASGITransport(app=backend.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        world = World(backend, http)
        await _key(world, "global-admin", "admin", None)
        client = httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers=world.as_("global-admin")
        )
        async with client:
            yield await _populate(world, client)
    await empty_tables(backend.engine)


async def _populate(world: World, client: httpx.AsyncClient) -> World:
    orgs = world.orgs
    orgs["R"] = await create_organisation(client, name="Omega Region", organisationType="network")
    orgs["A"] = await create_organisation(
        client, name="Alpha ICS", organisationType="ics", parentId=orgs["R"]["id"]
    )
    orgs["B"] = await create_organisation(
        client, name="Zeta ICS", organisationType="ics", parentId=orgs["R"]["id"]
    )
    for name, parent, title in (
        ("A1", "A", "Alpha Trust One"),
        ("A2", "A", "Alpha Trust Two"),
        ("B1", "B", "Zeta Trust"),
    ):
        orgs[name] = await create_organisation(
            client, name=title, organisationType="acute_trust", parentId=orgs[parent]["id"]
        )
    shared = {"sharedWithMembers": True, "maturity": 4} | EVIDENCED
    evidence = [{"title": "Omega evaluation", "url": "https://omega.example/eval.pdf"}]
    world.assets["R"] = await create_asset(
        client,
        world.org("R"),
        name="Omega regional platform",
        capabilityKey="data-platform",
        **(shared | {"evidence": evidence}),
    )
    world.assets["A"] = await create_asset(
        client,
        world.org("A"),
        name="Alpha shared analytics",
        capabilityKey="information-governance",
        **shared,
    )
    world.assets["B"] = await create_asset(
        client, world.org("B"), name="Zeta shared records", **shared
    )
    world.assets["A1"] = await create_asset(
        client, world.org("A1"), name="Alpha One team", capabilityKey="analytics-workforce"
    )
    world.assets["A2"] = await create_asset(
        client,
        world.org("A2"),
        name="Alpha Two improvement hub",
        area="improvement",
        capabilityKey="improvement-capability",
        maturity=4,
        **EVIDENCED,
    )
    world.assets["B1"] = await create_asset(
        client,
        world.org("B1"),
        name="Zeta improvement hub",
        area="improvement",
        capabilityKey="improvement-capability",
        maturity=4,
        **EVIDENCED,
    )
    for name in ("A1", "B1"):
        title = "Zeta audit cycle" if name == "B1" else "Alpha audit cycle"
        world.activities[name] = await create_activity(client, world.org(name), title=title)
        plan_title = "Zeta plan item" if name == "B1" else "Alpha plan item"
        response = await client.post(
            f"/v1/organisations/{world.org(name)}/plan-items",
            json={"capabilityKey": "learning-culture", "title": plan_title},
        )
        assert response.status_code == 201, response.text
        world.plan_items[name] = response.json()

    await _key(world, "global-reader", "reader", None)
    await _key(world, "global-editor", "editor", None)
    for role in ROLES:
        await _key(world, f"a-{role}", role, "A")
    await _key(world, "b-admin", "admin", "B")
    await _key(world, "a1-reader", "reader", "A1")
    await _key(world, "a1-admin", "admin", "A1")

    # Snapshots made by callers scoped to each ICS: readable within that ICS.
    world.assessments["A1"] = await _assessments(world, "a-editor", "A1")
    world.assessments["B1"] = await _assessments(world, "b-admin", "B1")
    for name, who in (("a", "a-admin"), ("b", "b-admin")):
        version = f"{BASE}-tn{name}"
        response = await world.call(
            who,
            "PUT",
            f"/v1/reference-models/{version}",
            json=variant_body(version, f"{'Zeta' if name == 'b' else 'Alpha'} variant"),
        )
        assert response.status_code == 201, response.text
        world.variants[name] = version

    world.hidden_ids = {
        world.org("B"),
        world.org("B1"),
        *(str(world.assets[n]["id"]) for n in ("R", "B", "B1")),
        str(world.activities["B1"]["id"]),
        str(world.plan_items["B1"]["id"]),
        *(str(a["id"]) for a in world.assessments["B1"]),
        world.key_ids["b-admin"],
        world.key_prefixes["b-admin"],
    }
    return world


def random_id() -> str:
    return str(uuid.uuid4())
