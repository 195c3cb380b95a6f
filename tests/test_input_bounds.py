"""Hostile documents over HTTP: every parser of a caller's bytes refuses what nests too deep or
runs too long with a problem, before it builds anything, and nothing is written. The parsers'
own properties, without a database, are in tests/test_parser_properties.py."""

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.json_input import MAX_DEPTH
from tests.conftest import Backend, ServerUrl, snapshot
from tests.helpers import assert_problem, create_organisation

JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}
# The request of the report that found the hole: 400 KB of opening brackets, as an import.
BRACKETS_400_KB = b"[" * 400_000


def nested(depth: int, inner: bytes = b"") -> bytes:
    return b"[" * depth + inner + b"]" * depth


def nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True)
class Hostile:
    method: str
    path: str  # {org}: an organisation made for the test
    body: bytes
    status: int
    code: str
    headers: dict[str, str]


ROW = b'{"area": "data", "name": "A fine asset", "maturity": 2}'
DEEP_TOKEN = b64(b'{"alg": "RS256", "kid": ' + nested(5_000) + b"}") + "." + b64(b"{}") + ".x"

HOSTILE = {
    "400 KB of brackets as an asset import": Hostile(
        "POST", "/v1/organisations/{org}/assets/import", BRACKETS_400_KB, 400,
        "NESTED_TOO_DEEP", JSON,
    ),
    "an activity import item nested 2,000 deep": Hostile(
        "POST", "/v1/organisations/{org}/activities/import", b"[" + nested(2_000) + b"]", 400,
        "NESTED_TOO_DEEP", JSON,
    ),
    "a valid row, then a row whose tags nest past the bound": Hostile(
        "POST", "/v1/organisations/{org}/assets/import",
        b"[" + ROW + b', {"area": "data", "name": "x", "maturity": 1, "tags": '
        + nested(MAX_DEPTH) + b"}]",
        400, "NESTED_TOO_DEEP", JSON,
    ),
    "objects nested 1,000 deep in an import": Hostile(
        "POST", "/v1/organisations/{org}/assets/import", b"[" + nested_objects(1_000) + b"]",
        400, "NESTED_TOO_DEEP", JSON,
    ),
    "a create body nested past the bound": Hostile(
        "POST", "/v1/organisations", b'{"name": ' + nested_objects(MAX_DEPTH) + b"}", 400,
        "NESTED_TOO_DEEP", JSON,
    ),
    "a merge patch nested past the bound": Hostile(
        "PATCH", "/v1/organisations/{org}", b'{"region": ' + nested(100) + b"}", 400,
        "NESTED_TOO_DEEP", {"Content-Type": "application/merge-patch+json", "If-Match": 'W/"1"'},
    ),
    "a map whose reference model document nests past the bound": Hostile(
        "POST", "/v1/maps/import",
        b'{"format": "lhs-map", "referenceModels": [{"document": ' + nested(200) + b"}]}",
        400, "NESTED_TOO_DEEP", JSON,
    ),
    "a reference model nested past the bound": Hostile(
        "PUT", "/v1/reference-models/hostile-1", b'{"areas": ' + nested(2_000) + b"}", 400,
        "NESTED_TOO_DEEP", JSON,
    ),
    "a CSV header of 300,000 unknown columns": Hostile(
        "POST", "/v1/organisations/{org}/assets/import", b"nope," * 200_000 + b"\r\n", 422,
        "VALIDATION_FAILED", CSV,
    ),
    "a CSV evidence cell of 100 KB that is not a link": Hostile(
        "POST", "/v1/organisations/{org}/assets/import",
        b"area,name,maturity,evidence\r\ndata,x,2," + b"\x01" * 100_000 + b"\r\n", 422,
        "VALIDATION_FAILED", CSV,
    ),
    "an import item that is an array nested within the bound": Hostile(
        "POST", "/v1/organisations/{org}/assets/import", b"[" + nested(MAX_DEPTH - 1) + b"]",
        422, "VALIDATION_FAILED", JSON,
    ),
    "a bearer token whose header nests 5,000 deep": Hostile(
        "GET", "/v1/organisations", b"", 401, "UNAUTHENTICATED",
        {"Authorization": f"Bearer {DEEP_TOKEN}"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
async def test_a_hostile_document_is_a_problem_and_nothing_is_written(
    client: httpx.AsyncClient, backend: Backend, case: Hostile
) -> None:
    organisation = await create_organisation(client)
    before = await snapshot(backend.engine)
    response = await client.request(
        case.method,
        case.path.format(org=organisation["id"]),
        content=case.body,
        headers=case.headers,
    )
    problem = assert_problem(response, case.status, case.code)
    # The answer never grows with the document: no echo of it, a bounded list of problems.
    assert len(response.content) < 20_000, f"{len(response.content)} bytes of answer"
    assert len(problem["errors"]) <= 50
    assert await snapshot(backend.engine) == before


async def test_brackets_and_escaped_quotes_inside_strings_are_text(
    client: httpx.AsyncClient,
) -> None:
    """Only nesting counts: a string full of brackets and escaped quotes is a string, in a body
    and in an import."""
    organisation = await create_organisation(client)
    text = '\\"[{' * 900 + "\\\\" + "[" * 300
    row = {"area": "data", "name": "Brackets", "maturity": 1, "description": text}
    created = await client.post(f"/v1/organisations/{organisation['id']}/assets", json=row)
    assert created.status_code == 201, created.text
    assert created.json()["description"] == text
    imported = await client.post(
        f"/v1/organisations/{organisation['id']}/assets/import",
        content=json.dumps([row | {"externalId": "B-1"}]).encode(),
        headers=JSON,
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == 1


def rss_kib(pid: int, field: str) -> int:
    """A process's resident memory (VmRSS) or its peak (VmHWM), in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def reset_peak(pid: int) -> None:
    """Linux: the peak (VmHWM) starts again from the present resident size."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def test_400_kb_of_brackets_is_refused_before_the_server_grows(
    server: ServerUrl, api_key: str, backend: Backend
) -> None:
    """The import that took a process past 9.5 GB: the real server refuses it, and its resident
    memory at its peak grows by under 50 MB. The peak is the kernel's (VmHWM, reset just before
    the request), so a spike between two samples cannot hide."""
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=server, headers=headers, timeout=120) as http:
        created = await http.post(
            "/v1/organisations", json={"name": "Memory Trust", "organisationType": "trust"}
        )
        assert created.status_code == 201, created.text
        url = f"/v1/organisations/{created.json()['id']}/assets/import"
        # A first import of the same size warms the path (imports, buffers, the pool).
        warm = await http.post(url, content=b"[" + b" " * 400_000 + b"]", headers=JSON)
        assert warm.status_code == 200, warm.text
        before = await snapshot(backend.engine)
        reset_peak(server.pid)
        resting = rss_kib(server.pid, "VmRSS")
        response = await http.post(url, content=BRACKETS_400_KB, headers=JSON)
        peak = rss_kib(server.pid, "VmHWM")
    assert_problem(response, 400, "NESTED_TOO_DEEP")
    assert (peak - resting) < 50 * 1024, f"grew {(peak - resting) / 1024:.0f} MB"
    assert await snapshot(backend.engine) == before
