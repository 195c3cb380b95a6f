"""Small builders for test data, through the public API (never behind its back)."""

import asyncio
import inspect
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from click.testing import CliRunner

from app import caches
from app.cli import main as lhs_map_main
from app.config import get_settings

# What the evidence rules ask of a checked claim: a link for "evidenced", a named reviewer
# and a date for "peer_reviewed".
EVIDENCE = [{"title": "Evaluation report", "url": "https://example.nhs.uk/report.pdf"}]
EVIDENCED = {"confidence": "evidenced", "evidence": EVIDENCE}
PEER_REVIEWED = {
    "confidence": "peer_reviewed",
    "reviewedBy": "Bradford Teaching Hospitals QI team",
    "reviewedAt": "2026-01-10T09:00:00Z",
}


async def create_organisation(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "Test Trust", "organisationType": "trust"} | fields
    response = await client.post("/v1/organisations", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_asset(
    client: httpx.AsyncClient, organisation_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"area": "data", "name": "An asset", "maturity": 2} | fields
    response = await client.post(f"/v1/organisations/{organisation_id}/assets", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_activity(
    client: httpx.AsyncClient, organisation_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "area": "improvement",
        "title": "An activity",
        "activityType": "improvement_project",
    } | fields
    response = await client.post(f"/v1/organisations/{organisation_id}/activities", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A well-formed RFC 9457 problem with the expected status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = dict(response.json())
    for field in ("type", "title", "status", "detail", "instance", "code", "traceId", "errors"):
        assert field in body, f"problem without {field}: {body}"
    assert body["status"] == status
    assert body["code"] == code
    assert body["traceId"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]],
    within: float,
    *,
    interval: float = 0.02,
    message: str = "the condition did not hold",
) -> None:
    """Return as soon as ``condition()`` (sync or async) is true; fail after ``within``
    seconds. Tests wait on what they expect, never for a fixed time that is too long on an
    idle machine and too short on a busy one."""
    deadline = time.monotonic() + within
    while True:
        outcome = condition()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} within {within} s")
        await asyncio.sleep(interval)


def one_organisation_map(
    parent: str,
    *,
    organisation_id: str | None = None,
    pinned: str | None = "2026.1",
    carried: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A whole-map document of one new trust hung under ``parent``: with an assessment pinned
    to ``pinned`` (none when None), carrying the model documents ``carried`` under a caller's
    timestamps from 2099 (which the service must never keep)."""
    organisation = organisation_id or str(uuid.uuid4())
    stamp = "2026-11-27T09:00:00Z"
    future = "2099-01-01T00:00:00Z"
    assessment: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "organisationId": organisation,
        "referenceModelVersion": pinned,
        "scope": "organisation",
        "overallScore": 0.5,
        "label": "Imported",
        "result": {},
        "seenFrom": organisation,
        "createdAt": stamp,
    }
    return {
        "exportedAt": stamp,
        "rootId": organisation,
        "organisations": [
            {
                "id": organisation,
                "name": "Imported Trust",
                "odsCode": None,
                "organisationType": "acute_trust",
                "parentId": parent,
                "region": None,
                "createdAt": stamp,
                "updatedAt": stamp,
                "version": 1,
            }
        ],
        "assets": [],
        "activities": [],
        "assessments": [] if pinned is None else [assessment],
        "referenceModels": [
            {
                "version": model["version"],
                "title": model.get("title", "Carried"),
                "basedOn": model.get("basedOn"),
                "document": model,
                "createdAt": future,
                "updatedAt": future,
                "rowVersion": 1,
            }
            for model in carried or []
        ],
    }


# One command at a time in this process: a command's settings come from os.environ, which is
# the process's own.
_CLI_LOCK = threading.Lock()


async def run_cli(
    database_url: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``lhs-map ARGS`` against ``database_url``, in this process, through the installed entry
    point (``app.cli:main``) with its own standard streams and environment, as a subprocess would
    see them, and its exit status. A new Python process costs a second or more of imports; the
    tests about the process itself (the script is installed, its streams stay apart) start a
    real one. Run in a thread: the command runs its own event loop, as it does when installed."""
    return await asyncio.to_thread(_run_cli, database_url, list(args), stdin)


def _run_cli(
    database_url: str, args: list[str], stdin: str | None
) -> subprocess.CompletedProcess[str]:
    with (
        _CLI_LOCK,
        CliRunner().isolation(input=stdin, env={"LHS_DATABASE_URL": database_url}) as (
            out,
            err,
            _,
        ),
    ):
        get_settings.cache_clear()  # read LHS_DATABASE_URL afresh, as a new process would
        try:
            lhs_map_main(args)
            status = 0
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            get_settings.cache_clear()
            # A process leaves nothing behind in the tests' process: neither does the command.
            caches.clear_all()
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    return subprocess.CompletedProcess(["lhs-map", *args], status, stdout, stderr)
