"""What only the transport shows, against a real uvicorn started as `make run` starts it, over
real sockets: HEAD and keep-alive, pipelining, exports a client abandons or stops reading, the
addresses proxies forward, headers added after the app (CORS), and 50 writers racing for one
record. The in-process client sees none of it: it never frames an answer on a connection.

The keep-alive tests write requests as bytes and read the answers with h11, strictly: a byte
too many after an answer is the start of the next one, or a protocol error."""

import asyncio
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h11
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from app.config import PROJECT_ROOT, Settings
from app.models import Asset
from app.vocabulary import Area, Confidence
from tests.auth_helpers import make_key
from tests.conftest import UVICORN_FLAGS, Backend, running_server
from tests.helpers import create_asset, create_organisation, wait_for
from tests.link_helpers import open_link

pytestmark = [pytest.mark.real_server, pytest.mark.xdist_group("transport")]

PORTAL = "https://portal.wy.example"
WRITERS = 50
# The export's deadline on this module's server: long enough for every other export here.
EXPORT_TIMEOUT_SECONDS = 3
# What uvicorn logs when it believes an answer to HEAD was a GET's (and drops the connection).
WRONG_LENGTH = "Response content shorter than Content-Length"
READ_SECONDS = 10.0
PROXY = "127.0.0.2"


@dataclass
class EdgeServer:
    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
async def edge_server(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[EdgeServer]:
    """One uvicorn for this module's tests (starting one costs seconds), with a portal allowed
    to call it (CORS) and to frame its pages, a short export deadline, and a proxy in front:
    127.0.0.2, another loopback address (the tests connect from 127.0.0.1)."""
    log = tmp_path_factory.mktemp("uvicorn") / "uvicorn.log"
    environment = {
        "LHS_CORS_ORIGINS": PORTAL,
        "LHS_FRAME_ANCESTORS": PORTAL,
        "LHS_EXPORT_TIMEOUT_SECONDS": str(EXPORT_TIMEOUT_SECONDS),
        "LHS_FORWARDED_ALLOW_IPS": PROXY,
    }
    async with running_server(backend.url, log, **environment) as base_url:
        yield EdgeServer(base_url, log)


# -- the start commands -------------------------------------------------------------------


def test_the_servers_under_test_run_with_the_flags_of_make_run_and_the_image() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    run = next(line for line in makefile.splitlines() if "uvicorn app.main:app" in line)
    assert set(UVICORN_FLAGS) <= set(run.split()), run
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert set(UVICORN_FLAGS) <= set(command.replace('"', " ").split()), command


# -- raw connections ------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class Wire:
    """One HTTP/1.1 connection: requests written as bytes, answers parsed by h11 in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader = reader
        self.writer = writer
        self.host = host
        self.parser = h11.Connection(h11.CLIENT)

    @staticmethod
    def request(method: str, target: str, host: str, headers: dict[str, str]) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send(self, *requests: tuple[str, str, dict[str, str]]) -> None:
        """Write the requests in one go (more than one: pipelined)."""
        self.writer.write(b"".join(self.request(m, t, self.host, h) for m, t, h in requests))
        await self.writer.drain()

    async def answer(self, method: str, target: str) -> Answer:
        """The next answer on the connection, to a request for ``target`` sent with ``method``;
        the connection must stay open for the next one."""
        # h11 frames an answer by the request it answers (no body after HEAD): tell it.
        self.parser.send(h11.Request(method=method, target=target, headers=[("Host", self.host)]))
        self.parser.send(h11.EndOfMessage())
        status, headers, body = 0, {}, bytearray()
        while True:
            event = self.parser.next_event()
            if event is h11.NEED_DATA:
                data = await asyncio.wait_for(self.reader.read(65536), READ_SECONDS)
                self.parser.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode(): v.decode("latin-1") for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                pytest.fail(f"the server closed the connection answering {method} {target}")
        kept = self.parser.our_state is h11.DONE and self.parser.their_state is h11.DONE
        assert kept, f"{method} {target}: the connection was not kept alive ({headers})"
        self.parser.start_next_cycle()
        return Answer(status, headers, bytes(body))

    async def assert_open_and_quiet(self) -> None:
        """Nothing more arrives (no stray body bytes) and the server has not hung up."""
        leftover, closed = self.parser.trailing_data
        assert leftover == b"", leftover
        assert not closed
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(self.reader.read(65536), 0.3)


@asynccontextmanager
async def wire(
    base_url: str, *, source: str | None = None, receive_buffer: int | None = None
) -> AsyncIterator[Wire]:
    """A raw connection to the server, from ``source`` (another loopback address) and with a
    small receive buffer if asked (a client that reads slowly)."""
    address = urlsplit(base_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    if source is not None:
        sock.bind((source, 0))
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (address.hostname, address.port))
    # A small stream buffer: the client holds little more than the kernel does when it stops.
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    try:
        yield Wire(reader, writer, address.netloc)
    finally:
        writer.close()
        with suppress(OSError):  # the server may have cut the connection first
            await writer.wait_closed()


async def metric(base_url: str, name: str, **labels: str) -> float:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def eventually(check: Any, *, within: float) -> bool:
    try:
        await wait_for(check, within, interval=0.1)
    except AssertionError:
        return False
    return True


# -- HEAD, keep-alive, pipelining -------------------------------------------------------------


async def test_head_then_get_on_one_keep_alive_connection(
    edge_server: EdgeServer, client: httpx.AsyncClient, api_key: str
) -> None:
    trust = await create_organisation(client, name="Leeds", odsCode="RTH")
    await create_asset(client, trust["id"])
    org = f"/v1/organisations/{trust['id']}"
    plan_item = await client.post(
        f"{org}/plan-items", json={"capabilityKey": "learning-culture", "title": "Plan"}
    )
    assert plan_item.status_code == 201, plan_item.text
    opened = await client.post(f"{org}/self-assessments", json={})
    sid = opened.json()["id"]
    answered = await client.put(
        f"/v1/self-assessments/{sid}/answers/learning-culture", json={"level": 2}
    )
    submitted = await client.post(
        f"/v1/self-assessments/{sid}/submit", headers={"If-Match": answered.headers["etag"]}
    )
    assert submitted.status_code == 200, submitted.text
    # The moderation page, as a browser holding a moderator's link sends for it (its cookie);
    # the link minted by the server under test, whose secret signs it.
    async with httpx.AsyncClient(base_url=edge_server.url) as browser:
        minted = await browser.post(
            f"/v1/self-assessments/{sid}/links",
            json={"action": "moderate", "respondent": "A Moderator"},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        assert minted.status_code in (200, 201), minted.text
        page, page_cookie = await open_link(browser, minted.json()["url"])
    auth = {"Authorization": f"Bearer {api_key}"}
    targets = [
        ("JSON", org, auth, 200),
        ("service info", "/v1", {}, 200),
        ("problem: unknown", f"/v1/organisations/{uuid.uuid4()}", auth, 404),
        ("problem: no credential", "/v1/organisations", {}, 401),
        ("problem: bad query", "/v1/organisations?limit=many", auth, 422),
        ("streamed CSV", f"{org}/assets?format=csv", auth, 200),
        ("HTML report", f"{org}/report", auth, 200),
        ("import template (CSV)", "/v1/imports/templates/assets", auth, 200),
        ("import template (xlsx)", "/v1/imports/templates/organisations?format=xlsx", auth, 200),
        ("plan item", f"/v1/plan-items/{plan_item.json()['id']}", auth, 200),
        ("plan items", f"{org}/plan-items?overdue=false", auth, 200),
        ("plan items CSV", f"{org}/plan-items?format=csv", auth, 200),
        ("plan items template", "/v1/imports/templates/plan_items", auth, 200),
        ("crosswalk", "/v1/reference-models/2026.2/crosswalks/wgll", auth, 200),
        ("analysis by WGLL (CSV)", f"{org}/gap-analysis?view=wgll&format=csv", auth, 200),
        ("DMA template", "/v1/imports/templates/dma", auth, 200),
        ("benchmark", f"{org}/benchmark", auth, 200),
        ("change feed", "/v1/changes?limit=5", auth, 200),
        ("systems", "/v1/systems", auth, 200),
        ("systems: bad cursor", "/v1/systems?cursor=nonsense", auth, 400),
        ("coverage", "/v1/capabilities/coverage?groupBy=sector", auth, 200),
        ("coverage: bad groupBy", "/v1/capabilities/coverage?groupBy=galaxy", auth, 422),
        ("every asset", "/v1/assets?limit=5", auth, 200),
        ("every asset (CSV)", "/v1/assets?format=csv", auth, 200),
        (
            "questionnaire",
            "/v1/reference-models/2026.2/questionnaire?organisationType=trust",
            auth,
            200,
        ),
        ("self-assessments", f"{org}/self-assessments", auth, 200),
        ("self-assessment", f"/v1/self-assessments/{sid}", auth, 200),
        ("self-assessment CSV", f"/v1/self-assessments/{sid}?format=csv", auth, 200),
        ("moderation page", urlsplit(page).path, page_cookie, 200),
        ("questionnaire page, no link", f"/v1/self-assessments/{sid}/questionnaire", {}, 401),
        ("docs", "/docs", {}, 200),
        ("FHIR metadata", "/v1/fhir/metadata", {}, 200),
        ("FHIR read", f"/v1/fhir/Organization/{trust['id']}", auth, 200),
        ("FHIR search", "/v1/fhir/Organization?identifier=RTH", auth, 200),
        ("FHIR outcome: unknown", f"/v1/fhir/Organization/{uuid.uuid4()}", auth, 404),
        ("FHIR outcome: no credential", "/v1/fhir/Organization", {}, 401),
    ]
    async with wire(edge_server.url) as connection:
        for name, target, headers, status in targets:
            await connection.send(("HEAD", target, headers))
            head = await connection.answer("HEAD", target)
            await connection.send(("GET", target, headers))
            get = await connection.answer("GET", target)
            assert (head.status, get.status) == (status, status), name
            assert head.body == b"", name
            assert get.body, name
            assert head.headers["content-type"] == get.headers["content-type"], name
            if "content-length" in get.headers:
                assert head.headers["content-length"] == get.headers["content-length"], name
            else:  # streamed: chunked for GET, no framing at all for HEAD
                assert get.headers["transfer-encoding"] == "chunked", name
                assert "transfer-encoding" not in head.headers, name
        await connection.assert_open_and_quiet()
    assert WRONG_LENGTH not in edge_server.log_text()
    # The edge labels the request by the method the caller sent and the route it matched.
    head_reads = await metric(
        edge_server.url,
        "lhs_http_requests_total",
        method="HEAD",
        route="/v1/organisations/{organisationId}",
        status="200",
    )
    assert head_reads >= 1


async def test_pipelined_requests_are_answered_in_order(
    edge_server: EdgeServer, client: httpx.AsyncClient, api_key: str
) -> None:
    trust = await create_organisation(client, name="Leeds")
    await create_asset(client, trust["id"])
    org = f"/v1/organisations/{trust['id']}"
    auth = {"Authorization": f"Bearer {api_key}"}
    requests = [
        ("GET", org, 200),
        ("HEAD", f"{org}/assets?format=csv", 200),
        ("GET", f"{org}/assets?format=csv", 200),
        ("HEAD", org, 200),
        ("GET", f"/v1/organisations/{uuid.uuid4()}", 404),
        ("GET", "/_ping", 200),
    ]
    async with wire(edge_server.url) as connection:
        await connection.send(
            *[
                (method, target, auth | {"X-Request-ID": f"pipelined-{n}"})
                for n, (method, target, _) in enumerate(requests)
            ]
        )
        for n, (method, target, status) in enumerate(requests):
            answer = await connection.answer(method, target)
            assert answer.status == status, (method, target, answer.body)
            assert answer.headers["x-request-id"] == f"pipelined-{n}"
            assert (answer.body == b"") == (method == "HEAD")
        await connection.assert_open_and_quiet()
    assert WRONG_LENGTH not in edge_server.log_text()


# -- exports a client abandons or stops reading --------------------------------------------

# Enough CSV (6 MB) to fill the socket buffers between the server and a client that stops
# reading: Linux lets the server's grow to 4 MB (net.ipv4.tcp_wmem).
LARGE_EXPORT_ROWS = 1500
LONG_TEXT = "x" * 4000


async def checked_out(base_url: str) -> float:
    return await metric(base_url, "lhs_db_pool_checked_out")


async def test_exports_give_their_connection_back_when_the_client_leaves_or_stalls(
    edge_server: EdgeServer, client: httpx.AsyncClient, backend: Backend, api_key: str
) -> None:
    trust = await create_organisation(client)
    # Written straight to the database: importing 6 MB through the API took seconds.
    async with backend.app.state.sessions.write() as session:
        session.add_all(
            Asset(
                organisation_id=uuid.UUID(trust["id"]),
                area=Area.DATA,
                name=f"Asset {n}",
                description=LONG_TEXT,
                maturity=2,
                confidence=Confidence.SELF_ASSESSED,
            )
            for n in range(LARGE_EXPORT_ROWS)
        )
        await session.commit()
    target = f"/v1/organisations/{trust['id']}/assets?format=csv"
    auth = {"Authorization": f"Bearer {api_key}"}
    url = edge_server.url

    async def holding() -> bool:
        return await checked_out(url) == 1

    async def released() -> bool:
        return await checked_out(url) == 0

    # A client that reads the start of the export, then hangs up.
    async with wire(url, receive_buffer=4096) as connection:
        await connection.send(("GET", target, auth))
        assert (await connection.reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        assert await eventually(holding, within=5), "the export never stalled on the client"
    hung_up = time.monotonic()
    assert await eventually(released, within=2), "the export kept its connection"
    assert time.monotonic() - hung_up < EXPORT_TIMEOUT_SECONDS  # freed by the hang-up itself

    # A client that stops reading and stays connected: the export ends at its deadline.
    async with wire(url, receive_buffer=4096) as connection:
        await connection.send(("GET", target, auth))
        began = time.monotonic()
        assert (await connection.reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        assert await eventually(holding, within=5), "the export never stalled on the client"
        assert await eventually(released, within=EXPORT_TIMEOUT_SECONDS + 5)
        assert time.monotonic() - began >= EXPORT_TIMEOUT_SECONDS - 1
        # The download is cut short, never ended as if complete: no last chunk, then EOF.
        rest = await asyncio.wait_for(read_to_end(connection.reader), READ_SECONDS)
        assert not rest.endswith(b"0\r\n\r\n")
    assert await checked_out(url) == 0


async def read_to_end(reader: asyncio.StreamReader) -> bytes:
    received = bytearray()
    while chunk := await reader.read(65536):
        received += chunk
    return bytes(received)


# -- proxies --------------------------------------------------------------------------------


def bad_credential(forwarded_for: str) -> dict[str, str]:
    return {"Authorization": "Bearer not-a-key", "X-Forwarded-For": forwarded_for}


async def allowances_left(http: httpx.AsyncClient, forwarded_for: list[str]) -> list[int]:
    """What the rate limit leaves each address after a bad credential sent from each one."""
    remaining = []
    for address in forwarded_for:
        refused = await http.get("/v1/organisations", headers=bad_credential(address))
        assert refused.status_code == 401
        remaining.append(int(refused.headers["ratelimit-remaining"]))
    return remaining


def test_no_address_is_a_proxy_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LHS_FORWARDED_ALLOW_IPS", raising=False)
    assert Settings(_env_file=None).forwarded_allow_ips == []
    monkeypatch.setenv("LHS_FORWARDED_ALLOW_IPS", "10.0.0.0/8, 192.0.2.7,::1")
    assert Settings(_env_file=None).forwarded_allow_ips == ["10.0.0.0/8", "192.0.2.7", "::1"]
    monkeypatch.setenv("LHS_FORWARDED_ALLOW_IPS", "load-balancer.internal")
    with pytest.raises(ValidationError, match="not an address or network"):
        Settings(_env_file=None)


async def test_forwarded_for_is_honoured_from_the_configured_proxy_only(
    edge_server: EdgeServer, client: httpx.AsyncClient
) -> None:
    """This server's one proxy is 127.0.0.2. From 127.0.0.1, loopback but not a configured
    proxy, a client that rotates X-Forwarded-For spends one allowance, its own address's; the
    proxy's requests are counted against the clients it names."""
    addresses = [f"198.51.100.{n}" for n in range(3)]
    https = {"X-Forwarded-Proto": "https"}
    async with httpx.AsyncClient(base_url=edge_server.url, timeout=10) as http:
        first, *rest = await allowances_left(http, addresses)
        claimed = await http.get("/_ping", headers=https)
    assert rest == [first - 1, first - 2]
    assert "strict-transport-security" not in claimed.headers
    through_proxy = httpx.AsyncHTTPTransport(local_address=PROXY)
    async with httpx.AsyncClient(
        base_url=edge_server.url, timeout=10, transport=through_proxy
    ) as http:
        fresh = await allowances_left(http, [f"192.0.2.{n}" for n in range(3)])
        again = await allowances_left(http, ["192.0.2.0"])
        forwarded = await http.get("/_ping", headers=https)
    assert fresh == [fresh[0]] * 3  # each client's first request
    assert again == [fresh[0] - 1]  # and a client's second one counts against it
    assert "max-age=" in forwarded.headers["strict-transport-security"]  # the proxy's HTTPS


# -- what goes out on the wire -------------------------------------------------------------


async def test_headers_on_the_wire(
    edge_server: EdgeServer, client: httpx.AsyncClient, api_key: str
) -> None:
    trust = await create_organisation(client, name="Leeds")
    async with httpx.AsyncClient(base_url=edge_server.url, timeout=30) as http:
        auth = {"Authorization": f"Bearer {api_key}"}
        public = await http.get("/_ping")
        authenticated = await http.get(f"/v1/organisations/{trust['id']}", headers=auth)
        refused = await http.get("/v1/organisations")
        report = await http.get(f"/v1/organisations/{trust['id']}/report", headers=auth)
        for response in (public, authenticated, refused, report):
            assert "server" not in response.headers, response.headers
            assert response.headers["x-content-type-options"] == "nosniff"
        assert authenticated.status_code == 200
        assert authenticated.headers["cache-control"] == "no-store"
        assert refused.status_code == 401
        assert report.status_code == 200
        policy = report.headers["content-security-policy"]
        assert re.search(rf"frame-ancestors {re.escape(PORTAL)}(;|$)", policy), policy

        preflight = {
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, if-match, content-type",
        }
        allowed = await http.options("/v1/organisations", headers=preflight | {"Origin": PORTAL})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == PORTAL
        assert "PATCH" in allowed.headers["access-control-allow-methods"]
        foreign = {"Origin": "https://evil.example"}
        stranger = await http.options("/v1/organisations", headers=preflight | foreign)
        assert "access-control-allow-origin" not in stranger.headers
        read = await http.get(f"/v1/organisations/{trust['id']}", headers=auth | foreign)
        assert "access-control-allow-origin" not in read.headers


async def test_fifty_parallel_patches_with_one_etag_make_one_change(
    edge_server: EdgeServer, client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client, name="Leeds")
    _, editor = await make_key(backend.app.state.sessions, "editor", trust["id"])
    url = f"/v1/organisations/{trust['id']}"
    limits = httpx.Limits(max_connections=WRITERS, max_keepalive_connections=WRITERS)
    headers = {"Authorization": f"Bearer {editor}", "If-Match": 'W/"1"'}
    async with httpx.AsyncClient(base_url=edge_server.url, limits=limits, timeout=60) as http:
        responses = await asyncio.gather(
            *(
                http.patch(url, json={"name": f"Writer {n}"}, headers=headers)
                for n in range(WRITERS)
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * (WRITERS - 1), statuses
    winner = next(r for r in responses if r.status_code == 200).json()
    assert winner["version"] == 2
    assert (await client.get(url)).json()["name"] == winner["name"]
    events = await client.get(
        "/v1/audit-events", params={"resourceType": "organisation", "resourceId": trust["id"]}
    )
    updates = [e for e in events.json()["items"] if e["action"] == "update"]
    assert len(updates) == 1, updates
    assert updates[0]["changes"] == [{"field": "name", "before": "Leeds", "after": winner["name"]}]
