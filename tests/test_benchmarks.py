"""Benchmarks by organisation type through the app, adversarially: a caller never learns
another organisation's value, by differencing two requests, from a tiny type, from a group it
can mostly read itself, or from a snapshot taken in the middle of a change."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlmodel import col

from app.benchmarks import queries, snapshot
from app.db import Sessions
from app.models import Asset, BenchmarkEntry, Organisation
from tests.auth_helpers import make_key
from tests.conftest import Backend
from tests.conftest import snapshot as database_rows
from tests.helpers import EVIDENCED, create_asset, create_organisation, one_organisation_map
from tests.test_auth_cli import lhs_map

CAPABILITY = "learning-culture"
FIGURE = f"capability:{CAPABILITY}"


async def refresh(backend: Backend) -> None:
    sessions: Sessions = backend.app.state.sessions
    assert await snapshot.refresh(sessions, every=timedelta(0), force=True) is not None


async def trust(
    client: httpx.AsyncClient, parent: str, name: str, maturity: int, kind: str = "acute_trust"
) -> dict[str, Any]:
    made = await create_organisation(client, name=name, organisationType=kind, parentId=parent)
    await create_asset(
        client,
        made["id"],
        area="improvement",
        capabilityKey=CAPABILITY,
        maturity=maturity,
        **EVIDENCED,
    )
    return made


async def caller(backend: Backend, scope: str, role: str = "reader") -> httpx.AsyncClient:
    _, key = await make_key(backend.app.state.sessions, role, scope)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend.app),
        base_url="http://localhost",
        headers={"Authorization": f"Bearer {key}"},
    )


async def benchmark(http: httpx.AsyncClient, organisation_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/organisations/{organisation_id}/benchmark")
    assert response.status_code == 200, response.text
    return dict(response.json())


def capability(body: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in body["capabilities"] if c["capabilityKey"] == CAPABILITY)


@pytest.fixture
async def world(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Four systems of acute trusts: A (maturity 1, 2), B (2, 3), C (3, 4), D (4)."""
    found: dict[str, dict[str, Any]] = {}
    for ics, maturities in {"A": (1, 2), "B": (2, 3), "C": (3, 4), "D": (4,)}.items():
        found[ics] = await create_organisation(client, name=f"ICS {ics}", organisationType="ics")
        for number, maturity in enumerate(maturities, start=1):
            name = f"{ics}{number}"
            found[name] = await trust(client, found[ics]["id"], name, maturity)
    return found


async def test_a_caller_sees_its_type_without_its_own_and_cannot_difference(
    backend: Backend, client: httpx.AsyncClient, world: dict[str, dict[str, Any]]
) -> None:
    async with backend.engine.begin() as connection:  # as a new deployment starts
        await connection.execute(text("UPDATE benchmark_snapshot SET taken_at = NULL"))
    before_snapshot = await benchmark(client, world["A1"]["id"])
    assert before_snapshot["takenAt"] is None
    assert before_snapshot["overall"]["withheld"]["reason"] == "no_snapshot"

    await refresh(backend)
    async with await caller(backend, world["A"]["id"]) as reader:
        first = await benchmark(reader, world["A1"]["id"])
        figure = capability(first)
        # B1, B2, C1, C2 and D1 (2, 3, 3, 4, 4): never A2, which this caller can read.
        assert (figure["n"], figure["systems"]) == (5, 3)
        assert (figure["lowerQuartile"], figure["median"], figure["upperQuartile"]) == (
            3.0,
            3.0,
            4.0,
        )
        assert figure["ownValue"] == 1.0
        assert figure["position"] == "below_lower_quartile"
        assert first["organisationType"] == "acute_trust"
        assert first["group"] == "service"
        assert "name" not in str(first).lower()

        # Change the caller's own records, add a member, and ask again: nothing moves until
        # the next snapshot, so no change of its own tells it anything of the others.
        asset = (await client.get(f"/v1/organisations/{world['A1']['id']}/assets")).json()
        asset_id = asset["items"][0]["id"]
        changed = await client.patch(
            f"/v1/assets/{asset_id}", json={"maturity": 4}, headers={"If-Match": 'W/"1"'}
        )
        assert changed.status_code == 200, changed.text
        await trust(client, world["A"]["id"], "A3", 0)
        assert await benchmark(reader, world["A1"]["id"]) == first

        await refresh(backend)
        after = capability(await benchmark(reader, world["A1"]["id"]))
        assert after["ownValue"] == 4.0
        assert (after["n"], after["median"]) == (5, 3.0)  # the group is what it was


async def test_a_caller_outside_the_scope_gets_404(
    backend: Backend, world: dict[str, dict[str, Any]]
) -> None:
    await refresh(backend)
    async with await caller(backend, world["B"]["id"]) as outsider:
        response = await outsider.get(f"/v1/organisations/{world['A1']['id']}/benchmark")
    assert response.status_code == 404


async def test_a_caller_who_reads_four_of_five_members_learns_nothing(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    a = await create_organisation(client, name="ICS A", organisationType="ics")
    b = await create_organisation(client, name="ICS B", organisationType="ics")
    mine = [await trust(client, a["id"], f"P{n}", n % 4, "gp_practice") for n in range(4)]
    theirs = await trust(client, b["id"], "Q1", 3, "gp_practice")
    await refresh(backend)
    async with await caller(backend, a["id"]) as reader:
        body = await benchmark(reader, mine[0]["id"])
    # The four it can read are left out, leaving one: withheld, and not even its count shows.
    for figure in [body["overall"], *body["areas"], *body["capabilities"]]:
        assert figure["withheld"]["reason"] == "too_few_organisations"
        assert (figure["median"], figure["n"]) == (None, None)
    # A global caller is compared as the organisation's own system: four, from one system.
    everyone = capability(await benchmark(client, theirs["id"]))
    assert everyone["withheld"]["reason"] == "too_few_organisations"


async def test_an_opted_out_organisation_is_not_counted_but_has_its_own_benchmark(
    backend: Backend, client: httpx.AsyncClient, world: dict[str, dict[str, Any]]
) -> None:
    d1 = world["D1"]
    async with await caller(backend, world["D"]["id"], "editor") as editor:
        refused = await editor.patch(
            f"/v1/organisations/{d1['id']}",
            json={"benchmarkOptOut": True},
            headers={"If-Match": 'W/"1"'},
        )
    assert refused.status_code == 403  # its admins decide
    async with await caller(backend, world["D"]["id"], "admin") as admin:
        opted = await admin.patch(
            f"/v1/organisations/{d1['id']}",
            json={"benchmarkOptOut": True},
            headers={"If-Match": 'W/"1"'},
        )
    assert opted.status_code == 200, opted.text
    assert opted.json()["benchmarkOptOut"] is True
    await refresh(backend)
    async with await caller(backend, world["A"]["id"]) as reader:
        without = capability(await benchmark(reader, world["A1"]["id"]))
    assert without["withheld"]["reason"] == "too_few_organisations"  # four are left
    async with await caller(backend, world["D"]["id"]) as own:
        still = capability(await benchmark(own, d1["id"]))
    assert still["withheld"] is None
    assert (still["n"], still["systems"], still["ownValue"]) == (6, 3, 4.0)


async def test_demo_data_is_compared_only_with_demo_data(
    backend: Backend, client: httpx.AsyncClient, world: dict[str, dict[str, Any]]
) -> None:
    # As the demo loader marks it (no caller of the API can).
    demo = [uuid.UUID(world[k]["id"]) for k in ("C", "C1", "C2", "D", "D1")]
    async with backend.engine.begin() as connection:
        await connection.execute(
            update(Organisation).where(col(Organisation.id).in_(demo)).values(is_demo=True)
        )
    await refresh(backend)
    real = capability(await benchmark(client, world["A1"]["id"]))
    assert real["withheld"]["reason"] == "too_few_organisations"  # B1, B2 only
    body = await benchmark(client, world["D1"]["id"])
    assert body["isDemo"] is True
    assert capability(body)["withheld"]["reason"] == "too_few_organisations"  # C1, C2 only
    patched = await client.patch(
        f"/v1/organisations/{world['A1']['id']}",
        json={"isDemo": True},
        headers={"If-Match": 'W/"1"'},
    )
    assert patched.status_code == 422  # read-only through the API


async def test_the_scope_restricted_setting_compares_within_the_caller_s_scope(
    backend: Backend, world: dict[str, dict[str, Any]]
) -> None:
    await refresh(backend)
    settings = backend.app.state.settings
    backend.app.state.settings = settings.model_copy(
        update={"benchmark_within_scope": True, "benchmark_minimum_organisations": 1}
    )
    try:
        async with await caller(backend, world["A"]["id"]) as reader:
            body = await benchmark(reader, world["A1"]["id"])
    finally:
        backend.app.state.settings = settings
    assert (body["group"], body["minimumSystems"]) == ("scope", 0)
    figure = capability(body)
    # A2 alone (maturity 2): nothing outside the caller's scope.
    assert (figure["n"], figure["median"], figure["ownValue"]) == (1, 2.0, 1.0)


async def test_of_two_refreshes_that_read_the_same_snapshot_time_one_wins(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    await refresh(backend)
    sessions: Sessions = backend.app.state.sessions
    async with sessions.read() as session:
        seen, model = await queries.taken(session)
    assert seen is not None
    assert model is not None
    won = []
    for _ in range(2):
        async with sessions.write() as session, session.begin():
            later = seen + timedelta(hours=1)
            won.append(await queries.claim(session, seen=seen, now=later, model=model, force=False))
    assert won == [True, False]
    # A snapshot younger than the interval is not taken again.
    assert await snapshot.refresh(sessions, every=timedelta(days=1), now=seen) is None


async def test_a_snapshot_taken_mid_change_is_one_consistent_read(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    """One transaction moves maturity 4 from X's trust to Y's (two systems) while snapshots
    are taken: every snapshot sees exactly one of them at 4, never both or neither."""
    x = await create_organisation(client, name="ICS X", organisationType="ics")
    y = await create_organisation(client, name="ICS Y", organisationType="ics")
    tx = await trust(client, x["id"], "X1", 4)
    ty = await trust(client, y["id"], "Y1", 0)
    ids = [uuid.UUID(tx["id"]), uuid.UUID(ty["id"])]

    stop = asyncio.Event()

    async def swapping() -> None:
        """Move the 4 back and forth, one committed transaction at a time, until stopped."""
        high, low = ids
        while not stop.is_set():
            async with backend.engine.begin() as connection:
                for organisation, maturity in ((high, 0), (low, 4)):
                    await connection.execute(
                        update(Asset)
                        .where(col(Asset.organisation_id) == organisation)
                        .values(maturity=maturity)
                    )
            high, low = low, high
            await asyncio.sleep(0)

    async def values() -> list[float]:
        async with backend.engine.connect() as connection:
            rows = await connection.execute(
                select(col(BenchmarkEntry.value)).where(
                    col(BenchmarkEntry.figure) == FIGURE,
                    col(BenchmarkEntry.organisation_id).in_(ids),
                )
            )
            return sorted(float(v) for v in rows.scalars())

    sessions: Sessions = backend.app.state.sessions
    swapper = asyncio.create_task(swapping())
    try:
        for _ in range(6):
            await snapshot.refresh(sessions, every=timedelta(0), force=True)
            assert await values() == [0.0, 4.0]
    finally:
        stop.set()
        await swapper
    async with backend.engine.connect() as connection:
        count = await connection.execute(text("SELECT count(*) FROM benchmark_snapshot"))
        assert count.scalar() == 1


async def test_the_operator_refreshes_the_snapshot_from_the_command_line(
    backend: Backend, client: httpx.AsyncClient, world: dict[str, dict[str, Any]]
) -> None:
    done = await lhs_map(backend.url, "benchmarks", "refresh")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Benchmark snapshot taken at ")
    assert "11 organisations" in done.stdout  # four systems and their seven trusts
    async with await caller(backend, world["A"]["id"]) as reader:
        assert capability(await benchmark(reader, world["A1"]["id"]))["n"] == 5


async def test_a_map_import_does_not_let_an_editor_take_organisations_out_of_benchmarks(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    """Whether an organisation is counted in others' benchmarks is its admins' decision, on
    every path: a map that opts organisations out, or marks them demo data (compared only with
    the demo's), needs an admin's credential as a PATCH of benchmarkOptOut does."""
    ics = await create_organisation(client, name="Editor's ICS", organisationType="ics")
    async with await caller(backend, ics["id"], "editor") as editor:
        before = await database_rows(backend.engine)
        for flag in ("benchmarkOptOut", "isDemo"):
            document = one_organisation_map(ics["id"], pinned=None)
            document["organisations"][0][flag] = True
            refused = await editor.post("/v1/maps/import", json=document)
            assert refused.status_code == 403, refused.text
        assert await database_rows(backend.engine) == before
    async with await caller(backend, ics["id"], "admin") as admin:
        document = one_organisation_map(ics["id"], pinned=None)
        document["organisations"][0]["benchmarkOptOut"] = True
        imported = await admin.post("/v1/maps/import", json=document)
    assert imported.status_code == 201, imported.text


async def test_an_admin_who_mints_a_narrower_key_learns_no_single_value(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    """An ICS admin can mint a key scoped to one of its trusts; its sibling trusts, which the
    admin reads and sets, are outside that key's scope. Were they counted, three siblings at 0
    and one trust in each of two other systems would make five from two systems, and the upper
    quartile would be the lower of the two others' values: one organisation's value. The
    organisation's own system is never in its group, whoever asks."""
    a = await create_organisation(client, name="ICS A", organisationType="ics")
    x = await trust(client, a["id"], "X", 1)
    for number in range(3):
        await create_organisation(
            client, name=f"S{number}", organisationType="acute_trust", parentId=a["id"]
        )
    for ics, maturity in (("B", 2), ("C", 3)):
        other = await create_organisation(client, name=f"ICS {ics}", organisationType="ics")
        await trust(client, other["id"], f"{ics}1", maturity)
    await refresh(backend)
    async with await caller(backend, x["id"]) as narrow:
        figure = capability(await benchmark(narrow, x["id"]))
    assert figure["upperQuartile"] is None, "B1's value, 2.0, would show"
    assert figure["withheld"]["reason"] == "too_few_organisations"


async def test_a_new_snapshot_moves_the_group_a_caller_was_last_shown(
    backend: Backend, client: httpx.AsyncClient, world: dict[str, dict[str, Any]]
) -> None:
    """The groups behind a figure are remembered per snapshot: asked again, the same; after
    a peer in another system changes and a new snapshot is taken, the figure moves."""
    await refresh(backend)
    first = capability(await benchmark(client, world["A1"]["id"]))
    # B1, B2, C1, C2, D1 (2, 3, 3, 4, 4): A2 is in A1's own system.
    assert (first["n"], first["median"], first["upperQuartile"]) == (5, 3.0, 4.0)
    assert capability(await benchmark(client, world["A1"]["id"])) == first

    assets = (await client.get(f"/v1/organisations/{world['B1']['id']}/assets")).json()
    raised = await client.patch(
        f"/v1/assets/{assets['items'][0]['id']}",
        json={"maturity": 4},
        headers={"If-Match": 'W/"1"'},
    )
    assert raised.status_code == 200, raised.text
    assert capability(await benchmark(client, world["A1"]["id"])) == first  # same snapshot

    await refresh(backend)
    after = capability(await benchmark(client, world["A1"]["id"]))
    # B1 now 4: (3, 3, 4, 4, 4).
    assert (after["n"], after["lowerQuartile"], after["median"]) == (5, 3.0, 4.0)
