"""Every log line names the request it belongs to."""

import logging

import httpx
import pytest


async def test_access_and_error_lines_carry_the_request_and_correlation_ids(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app")
    await client.get("/v1", headers={"X-Request-ID": "req-42", "X-Correlation-ID": "corr-7"})
    await client.get("/v1/nowhere", headers={"X-Request-ID": "req-43"})
    access = [r for r in caplog.records if r.name == "app.access"]
    assert [(r.getMessage().split()[:3], r.request_id) for r in access] == [  # type: ignore[attr-defined]
        (["GET", "/v1", "200"], "req-42"),
        (["GET", "/v1/nowhere", "404"], "req-43"),
    ]
    assert access[0].correlation_id == "corr-7"  # type: ignore[attr-defined]
    assert access[1].correlation_id == "req-43"  # type: ignore[attr-defined]
