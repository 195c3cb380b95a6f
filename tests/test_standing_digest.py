"""A kept standing's digest names the code that worked it out (app.national.figures)."""

import sys
from typing import Any

import httpx
import pytest

from app.national import figures
from tests.test_national import ok, two_systems


async def test_every_module_that_works_out_a_standing_is_in_its_digest(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: set[str] = set()
    original = figures.standings

    def traced(*args: Any, **kwargs: Any) -> Any:
        def seen(frame: Any, event: str, _arg: Any) -> None:
            if event == "call":
                ran.add(str(frame.f_globals.get("__name__")))

        sys.setprofile(seen)
        try:
            return original(*args, **kwargs)
        finally:
            sys.setprofile(None)

    monkeypatch.setattr(figures, "standings", traced)
    await two_systems(client)
    await ok(await client.get("/v1/systems"))
    crediting = {name for name in ran if name.startswith("app.")}
    assert crediting, "no standing was worked out"
    # A release that changes any of them may change a standing: a kept one must not be used.
    assert crediting <= set(figures._WORKED_OUT_BY), crediting - set(figures._WORKED_OUT_BY)
