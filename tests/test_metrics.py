"""/metrics, as Prometheus scrapes it: requests by route template and status, the database
pool, gap analyses, and numbers that add up across uvicorn workers."""

import asyncio
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.config import PROJECT_ROOT
from app.main import create_app
from tests.conftest import Backend, running_server
from tests.helpers import create_asset, create_organisation, wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: httpx.AsyncClient) -> Samples:
    """Every sample of a scrape, by name and labels."""
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, method: str, route: str, status: int) -> float:
    return value(samples, "lhs_http_requests_total", method=method, route=route, status=str(status))


async def test_requests_are_counted_and_timed_by_route_template_never_by_raw_path(
    client: httpx.AsyncClient,
) -> None:
    before = await scrape(client)
    missing = [f"/v1/assets/{uuid.uuid4()}" for _ in range(3)]
    for path in missing:
        assert (await client.get(path)).status_code == 404
    assert (await client.get("/v1/no-such-thing")).status_code == 404
    assert (await client.request("BREW", "/v1")).status_code == 405
    after = await scrape(client)

    template = "/v1/assets/{assetId}"
    assert requests(after, "GET", template, 404) - requests(before, "GET", template, 404) == 3
    assert requests(after, "GET", "unmatched", 404) - requests(before, "GET", "unmatched", 404) == 1
    # A method nobody serves is one label, so callers cannot mint time series.
    assert requests(after, "other", "/v1", 405) - requests(before, "other", "/v1", 405) == 1
    labels = {dict(key[1]).get("route") for key in after}
    assert not [path for path in missing if path in labels]
    latency = "lhs_http_request_duration_seconds_count"
    timed = value(after, latency, method="GET", route=template, status="404")
    assert timed - value(before, latency, method="GET", route=template, status="404") == 3
    buckets = [key for key in after if key[0] == "lhs_http_request_duration_seconds_bucket"]
    assert buckets, "no latency histogram"


async def test_a_request_refused_before_routing_is_labelled_with_its_route(
    client: httpx.AsyncClient,
) -> None:
    route = "/v1/organisations"
    before = await scrape(client)
    refused = await client.post(route, content=b"{}", headers={"Content-Length": "99999999"})
    assert refused.status_code == 413
    after = await scrape(client)
    assert requests(after, "POST", route, 413) - requests(before, "POST", route, 413) == 1


async def test_pool_gauges_describe_the_apps_own_pool(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    samples = await scrape(client)
    pool = backend.engine.sync_engine.pool
    assert value(samples, "lhs_db_pool_size") == pool.size()  # type: ignore[attr-defined]
    # Nothing is running but the scrape, which holds no connection.
    assert value(samples, "lhs_db_pool_checked_out") == 0
    assert value(samples, "lhs_db_pool_overflow") == 0


async def test_gap_analyses_are_counted_by_scope_with_their_duration(
    client: httpx.AsyncClient,
) -> None:
    ics = await create_organisation(client, name="Metrics ICS", organisationType="ics")
    trust = await create_organisation(client, name="Metrics Trust", parentId=ics["id"])
    await create_asset(client, trust["id"], capabilityKey="data-platform")
    before = await scrape(client)
    for path in (
        f"/v1/organisations/{trust['id']}/gap-analysis",
        f"/v1/organisations/{trust['id']}/gap-analysis",
        f"/v1/organisations/{ics['id']}/gap-analysis?scope=system",
    ):
        assert (await client.get(path)).status_code == 200
    # Refused (a trust has no members to roll up): not an analysis run.
    refused = await client.get(f"/v1/organisations/{trust['id']}/gap-analysis?scope=system")
    assert refused.status_code == 422
    after = await scrape(client)

    def run(samples: Samples, name: str, scope: str) -> float:
        return value(samples, name, scope=scope)

    for scope, count in (("organisation", 2), ("system", 1)):
        for name in ("lhs_gap_analyses_total", "lhs_gap_analysis_duration_seconds_count"):
            assert run(after, name, scope) - run(before, name, scope) == count, (name, scope)
        took = run(after, "lhs_gap_analysis_duration_seconds_sum", scope)
        assert took > run(before, "lhs_gap_analysis_duration_seconds_sum", scope)


def test_metrics_are_not_part_of_the_api_contract() -> None:
    assert "/metrics" not in create_app().openapi()["paths"]


@pytest.mark.real_server
async def test_several_workers_add_up(
    backend: Backend, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Two uvicorn workers share PROMETHEUS_MULTIPROC_DIR: a scrape answered by either counts
    every request both served, and the pool gauges sum both pools."""
    directory = tmp_path / "metrics"
    directory.mkdir()
    stale = directory / "counter_999999.db"  # a previous run's file: the run command clears it
    stale.write_bytes(b"")
    environment = {"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    prepare = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.http.metrics", "prepare", str(directory), cwd=PROJECT_ROOT
    )
    assert await prepare.wait() == 0
    assert not stale.exists()
    log = tmp_path / "uvicorn.log"
    async with running_server(backend.url, log, "--workers", "2", **environment) as url:
        await until(lambda: len(pids(directory, "gauge_livesum")) == 2, log)
        served = 0
        # New connections, concurrently, until both workers have answered some requests.
        for _ in range(20):
            async with asyncio.TaskGroup() as group:
                for _ in range(20):
                    group.create_task(get_on_a_new_connection(url, "/v1"))
            served += 20
            if len(pids(directory, "counter")) == 2:
                break
        assert len(pids(directory, "counter")) == 2, "one worker served every request"
        async with httpx.AsyncClient(base_url=url) as http:
            # A request is counted just after its response has gone: give the last a moment.
            async def all_counted() -> bool:
                return requests(await scrape(http), "GET", "/v1", 200) >= served

            await wait_for(all_counted, 5, interval=0.1, message="requests went uncounted")
            for _ in range(3):  # whichever worker answers the scrape
                samples = await scrape(http)
                assert requests(samples, "GET", "/v1", 200) == served
            pool_size = backend.engine.sync_engine.pool.size()  # type: ignore[attr-defined]
            assert value(samples, "lhs_db_pool_size") == 2 * pool_size
            # Each worker's own process numbers, one series per pid (the collector of the
            # scraped process alone would describe one worker as if it were the service).
            memory = {
                dict(labels)["pid"]: sample
                for (name, labels), sample in samples.items()
                if name == "lhs_worker_resident_memory_bytes"
            }
            assert set(memory) == pids(directory, "gauge_liveall"), memory
            assert len(memory) == 2
            assert all(size > 10_000_000 for size in memory.values()), memory
            assert "process_resident_memory_bytes" not in {name for name, _ in samples}


async def get_on_a_new_connection(url: str, path: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get(path)).status_code == 200


def pids(directory: Path, kind: str) -> set[str]:
    return {path.stem.rsplit("_", 1)[1] for path in directory.glob(f"{kind}_*.db")}


async def until(condition: Callable[[], bool], log: Path) -> None:
    try:
        await wait_for(condition, 30, interval=0.1)
    except AssertionError:
        output = await asyncio.to_thread(log.read_text)
        pytest.fail(f"the workers did not both start:\n{output}")


async def test_the_docs_static_assets_are_labelled_by_their_mount(
    client: httpx.AsyncClient,
) -> None:
    before = await scrape(client)
    for path in ("/docs/assets/docs.css", "/docs/assets/swagger-init.js"):
        assert (await client.get(path)).status_code == 200
    assert (await client.get("/docs/assets/no-such-file.js")).status_code == 404
    after = await scrape(client)
    route = "/docs/assets/{path}"
    assert requests(after, "GET", route, 200) - requests(before, "GET", route, 200) == 2
    assert requests(after, "GET", route, 404) - requests(before, "GET", route, 404) == 1
    assert requests(after, "GET", "unmatched", 200) == requests(before, "GET", "unmatched", 200)
