"""A change committed between an analysis's read outside its snapshot and the
snapshot itself (the window _identify_again closes)."""

from typing import Any

import httpx
import pytest

from app.analysis import service
from tests.auth_helpers import make_key
from tests.conftest import Backend
from tests.helpers import create_asset, create_organisation

Json = dict[str, Any]


async def _move(client: httpx.AsyncClient, organisation: Json, parent: str) -> None:
    url = f"/v1/organisations/{organisation['id']}"
    current = await client.get(url)
    answer = await client.patch(
        url, json={"parentId": parent}, headers={"If-Match": current.headers["etag"]}
    )
    assert answer.status_code == 200, answer.text


async def _moved_in_the_window(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> tuple[Json, Json, list[bool]]:
    """North ICS and a trust in it; the trust's next analysis has it moved to South ICS
    after the request read the system outside its snapshot, before the snapshot."""
    north = await create_organisation(client, name="North ICS", organisationType="ics")
    south = await create_organisation(client, name="South ICS", organisationType="ics")
    trust = await create_organisation(client, name="Moving Trust", parentId=north["id"])
    await create_asset(client, trust["id"])
    original = service._compute
    moved: list[bool] = []

    async def compute(*args: Any, **kwargs: Any) -> Any:
        if not moved:
            moved.append(True)
            await _move(client, trust, south["id"])
        return await original(*args, **kwargs)

    monkeypatch.setattr(service, "_compute", compute)
    return north, trust, moved


async def test_a_move_out_of_the_system_in_the_window_is_not_a_500(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, trust, moved = await _moved_in_the_window(client, monkeypatch)
    answer = await client.get(f"/v1/organisations/{trust['id']}/gap-analysis")
    assert moved
    # The snapshot identifies the organisation again (its lineage, its scope check, its
    # system): an answer of where it stands now.
    assert answer.status_code == 200, answer.text
    assert answer.json()["organisation"]["id"] == trust["id"]


async def test_a_move_out_of_the_callers_scope_in_the_window_is_a_404(
    client: httpx.AsyncClient, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    north, trust, moved = await _moved_in_the_window(client, monkeypatch)
    _, key = await make_key(backend.app.state.sessions, "reader", north["id"])
    answer = await client.get(
        f"/v1/organisations/{trust['id']}/gap-analysis",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert moved
    # The organisation is no longer the caller's to see: the snapshot says so.
    assert answer.status_code == 404, answer.text
