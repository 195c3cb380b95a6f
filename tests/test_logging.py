"""Logs: one JSON line per request with what an operator searches by, every line naming its
request, text for a terminal, and never a credential or a body."""

import asyncio
import contextlib
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from app.auth import keys
from app.auth.principal import Principal as AuthPrincipal
from app.logs import LogFormat, configure_logging
from app.vocabulary import PrincipalKind, Role
from tests.conftest import Backend, running_server
from tests.helpers import create_organisation, wait_for

ANSI_COLOURS = re.compile(r"\x1b\[[0-9;]*m")
SECRET = "sk_live_do-not-log-me"
MISSING = "/v1/organisations/00000000-0000-4000-8000-000000000000"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """What the service writes to stderr, in JSON, while the test runs."""
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    yield stream
    configure_logging("INFO")


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def access_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [line for line in lines(stream) if line["logger"] == "app.access"]


async def test_one_json_line_per_request_with_ids_route_status_and_duration(
    client: httpx.AsyncClient, logs: io.StringIO, api_key: str
) -> None:
    await client.get("/v1", headers={"X-Request-ID": "req-42", "X-Correlation-ID": "corr-7"})
    await client.get(MISSING, headers={"X-Request-ID": "req-43"})
    await client.get("/v1/nowhere", headers={"X-Request-ID": "req-44"})
    first, second, third = access_lines(logs)
    assert first["request_id"] == "req-42"
    assert first["correlation_id"] == "corr-7"
    assert (first["method"], first["route"], first["status"]) == ("GET", "/v1", 200)
    assert isinstance(first["duration_ms"], float)
    assert first["duration_ms"] >= 0
    assert first["level"] == "info"
    assert first["timestamp"].endswith("Z")
    # The template, not the raw path, so lines for one operation group together.
    assert second["route"] == "/v1/organisations/{organisationId}"
    assert second["path"] == MISSING
    assert (second["status"], second["correlation_id"]) == (404, "req-43")
    assert (third["route"], third["status"]) == ("unmatched", 404)
    # The caller: the key's public prefix, never the key.
    assert api_key.startswith(first["principal"])
    assert len(first["principal"]) < len(api_key)
    assert api_key not in logs.getvalue()
    anonymous = await client.get("/v1", headers={"Authorization": "", "X-Request-ID": "req-45"})
    assert anonymous.status_code == 200
    assert "principal" not in access_lines(logs)[-1]


async def test_library_lines_carry_the_request_ids_too(
    client: httpx.AsyncClient, logs: io.StringIO
) -> None:
    """A line a library writes while a request runs (here SQLAlchemy's statement log) names
    that request; one written outside any request says so."""
    engine_log = logging.getLogger("sqlalchemy.engine.Engine")
    engine_log.setLevel(logging.INFO)
    try:
        await client.get("/v1/organisations", headers={"X-Request-ID": "req-9"})
    finally:
        engine_log.setLevel(logging.WARNING)
    statements = [line for line in lines(logs) if line["logger"] == "sqlalchemy.engine.Engine"]
    assert any("SELECT" in line["event"] for line in statements), statements
    assert {(line["request_id"], line["correlation_id"]) for line in statements} == {
        ("req-9", "req-9")
    }
    logging.getLogger("app.housekeeping").warning("outside any request")
    assert lines(logs)[-1]["request_id"] == "-"


async def test_the_caller_is_named_and_no_secret_header_or_body_is_written(
    client: httpx.AsyncClient, logs: io.StringIO, api_key: str
) -> None:
    created = await client.post(
        "/v1/organisations",
        json={"name": f"Trust {SECRET}", "organisationType": "trust"},
        headers={"Cookie": f"session={SECRET}"},
    )
    refused = await client.post(
        "/v1/organisations",
        json={"name": "X", "organisationType": "trust", "password": SECRET},
        headers={"X-Api-Key": SECRET},
    )
    assert (created.status_code, refused.status_code) == (201, 422)
    written = logs.getvalue()
    assert SECRET not in written
    assert api_key not in written
    assert "Bearer" not in written
    access = access_lines(logs)
    assert [line["status"] for line in access] == [201, 422]
    parsed = keys.parse(api_key)
    assert parsed is not None
    assert {line["principal"] for line in access} == {parsed[0]}


@pytest.mark.parametrize(
    ("principal", "named"),
    [
        ("lhs_cd34", "lhs_cd34"),
        ({"subject": "user@example.nhs.uk", "token": SECRET}, "user@example.nhs.uk"),
        ({"sub": "service-account-7"}, "service-account-7"),
        ({"token": SECRET}, None),
        (
            AuthPrincipal(subject="lhs_ef56", kind=PrincipalKind.API_KEY, role=Role.EDITOR),
            "lhs_ef56",
        ),
    ],
)
async def test_a_caller_is_named_by_key_prefix_or_subject_and_never_guessed(
    backend: Backend, logs: io.StringIO, principal: Any, named: str | None
) -> None:
    async def as_a_caller(scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["principal"] = principal
        await backend.app(scope, receive, send)

    transport = httpx.ASGITransport(app=as_a_caller)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        await http.get("/v1")
    (line,) = access_lines(logs)
    assert line.get("principal") == named
    assert SECRET not in logs.getvalue()


def test_credentials_passed_to_a_logger_are_redacted(logs: io.StringIO) -> None:
    import structlog

    structlog.stdlib.get_logger("app.test").info("called out", api_key=SECRET, status=200)
    (line,) = lines(logs)
    assert (line["api_key"], line["status"]) == ("[redacted]", 200)


@pytest.mark.parametrize(
    ("log_format", "terminal", "json_lines"),
    [("json", True, True), ("console", False, False), ("auto", True, False), ("auto", False, True)],
)
async def test_text_for_a_terminal_json_otherwise(
    client: httpx.AsyncClient, log_format: LogFormat, terminal: bool, json_lines: bool
) -> None:
    stream = Terminal() if terminal else io.StringIO()
    configure_logging("INFO", log_format, stream)
    try:
        await client.get("/v1", headers={"X-Request-ID": "req-77"})
    finally:
        configure_logging("INFO")
    written = ANSI_COLOURS.sub("", stream.getvalue())
    (line,) = [line for line in written.splitlines() if "app.access" in line]
    if json_lines:
        assert json.loads(line)["request_id"] == "req-77"
    else:
        assert not line.startswith("{")
        assert "request_id=req-77" in line
        assert "route=/v1" in line


@pytest.fixture
async def json_server(backend: Backend, tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    log = tmp_path / "uvicorn.log"
    async with running_server(backend.url, log, LHS_LOG_FORMAT="json") as url:
        yield url, log


@pytest.mark.real_server
async def test_a_real_server_writes_only_json_lines_uvicorns_own_included(
    json_server: tuple[str, Path], client: httpx.AsyncClient
) -> None:
    url, log = json_server
    async with httpx.AsyncClient(base_url=url, headers=client.headers) as http:
        organisation = await create_organisation(http, name="Logged Trust")
        await http.get(f"/v1/organisations/{organisation['id']}", headers={"X-Request-ID": "r-1"})
    written = await lines_once(log, lambda line: line.get("request_id") == "r-1")
    assert {"uvicorn.error", "app.access"} <= {line["logger"] for line in written}
    assert all("request_id" in line and "correlation_id" in line for line in written)
    started = [line for line in written if line["event"].startswith("Started server process")]
    assert started, written
    read = [line for line in written if line.get("request_id") == "r-1"]
    assert [(line["route"], line["status"]) for line in read] == [
        ("/v1/organisations/{organisationId}", 200)
    ]
    # Started as make run starts it (--no-access-log): uvicorn's access line is not written.
    assert not [line for line in written if line["logger"] == "uvicorn.access"]


async def lines_once(log: Path, seen: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """The server's lines, once one of them passes ``seen``: a request's line is written after
    its response has gone, so the client can be ahead of the log."""
    written: list[dict[str, Any]] = []

    async def written_one() -> bool:
        nonlocal written
        text = await asyncio.to_thread(log.read_text)
        written = [json.loads(line) for line in text.splitlines() if line.strip()]
        return any(seen(line) for line in written)

    with contextlib.suppress(AssertionError):  # the caller says which line is missing
        await wait_for(written_one, 5, interval=0.05)
    return written


async def test_the_access_line_is_the_same_whether_or_not_another_handler_listens(
    client: httpx.AsyncClient, logs: io.StringIO
) -> None:
    """Alone on the root logger, ours writes the access line straight away; with another
    handler listening (an operator's, a test's capture) the line goes as a record through
    logging, so that one sees it too. What ours writes must not differ."""
    await client.get("/v1", headers={"X-Request-ID": "alone-1"})
    seen: list[logging.LogRecord] = []

    class Listener(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    listener = Listener()
    logging.getLogger().addHandler(listener)
    try:
        await client.get("/v1", headers={"X-Request-ID": "alone-1"})
    finally:
        logging.getLogger().removeHandler(listener)
    direct, through_logging = access_lines(logs)
    assert [r.name for r in seen if r.name == "app.access"] == ["app.access"]
    assert set(direct) == set(through_logging)
    assert list(direct) == list(through_logging), "the same keys in the same order"
    for line in (direct, through_logging):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", line["timestamp"])
    ignored = {"timestamp", "duration_ms"}
    assert {k: v for k, v in direct.items() if k not in ignored} == {
        k: v for k, v in through_logging.items() if k not in ignored
    }


async def test_the_access_line_names_the_client_its_agent_the_size_and_a_problems_code(
    client: httpx.AsyncClient, logs: io.StringIO
) -> None:
    agent = "portal-sync/1.4 " + "x" * 500
    found = await client.get("/v1", headers={"User-Agent": agent})
    missing = await client.get(MISSING, headers={"User-Agent": "curl/8.5"})
    head = await client.head("/v1")
    assert (found.status_code, missing.status_code, head.status_code) == (200, 404, 200)
    first, second, third = access_lines(logs)
    # httpx's ASGI transport connects from 127.0.0.1 (the edge trusts no proxy here).
    assert first["client"] == second["client"] == "127.0.0.1"
    assert first["user_agent"] == agent[:200]
    assert second["user_agent"] == "curl/8.5"
    assert first["bytes"] == len(found.content) > 0
    assert second["bytes"] == len(missing.content) > 0
    assert third["bytes"] == 0  # HEAD: the headers only
    assert "code" not in first
    assert second["code"] == missing.json()["code"] == "NOT_FOUND"
