"""A change committed between an analysis's read outside its snapshot and the
snapshot itself (the window _identify_again closes)."""

from typing import Any

import httpx
import pytest

from app.analysis import service
from tests.helpers import create_asset, create_organisation


async def _move(client: httpx.AsyncClient, organisation: dict[str, Any], parent: str) -> None:
    url = f"/v1/organisations/{organisation['id']}"
    current = await client.get(url)
    answer = await client.patch(
        url, json={"parentId": parent}, headers={"If-Match": current.headers["etag"]}
    )
    assert answer.status_code == 200, answer.text


async def test_a_move_out_of_the_system_in_the_window_is_not_a_500(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    north = await create_organisation(client, name="North ICS", organisationType="ics")
    south = await create_organisation(client, name="South ICS", organisationType="ics")
    trust = await create_organisation(client, name="Moving Trust", parentId=north["id"])
    await create_asset(client, trust["id"])
    original = service._compute
    moved = False

    async def compute(*args: Any, **kwargs: Any) -> Any:
        nonlocal moved
        if not moved:
            moved = True
            # Committed after the request read the system outside its snapshot.
            await _move(client, trust, south["id"])
        return await original(*args, **kwargs)

    monkeypatch.setattr(service, "_compute", compute)
    answer = await client.get(f"/v1/organisations/{trust['id']}/gap-analysis")
    assert moved
    # Before this round the snapshot identified the organisation again (its lineage, its
    # scope check, its system): a 200 of where it stands now.
    assert answer.status_code == 200, answer.text


async def test_a_move_out_of_the_callers_scope_in_the_window_is_a_404(
    client: httpx.AsyncClient, backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.auth_helpers import make_key

    north = await create_organisation(client, name="North ICS", organisationType="ics")
    south = await create_organisation(client, name="South ICS", organisationType="ics")
    trust = await create_organisation(client, name="Moving Trust", parentId=north["id"])
    await create_asset(client, trust["id"])
    _, key = await make_key(backend.app.state.sessions, "reader", north["id"])
    original = service._compute
    moved = False

    async def compute(*args: Any, **kwargs: Any) -> Any:
        nonlocal moved
        if not moved:
            moved = True
            await _move(client, trust, south["id"])
        return await original(*args, **kwargs)

    monkeypatch.setattr(service, "_compute", compute)
    answer = await client.get(
        f"/v1/organisations/{trust['id']}/gap-analysis",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert moved
    # The organisation is no longer the caller's to see: the snapshot says so, as before.
    assert answer.status_code == 404, answer.text
