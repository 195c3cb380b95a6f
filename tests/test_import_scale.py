"""A 10,000-row sheet imports in one request, held a batch at a time, and exports again."""

import csv
import io
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest

from app.transfer.service import BATCH_ROWS
from tests.helpers import create_organisation

pytestmark = pytest.mark.slow

ROWS = 10_000
WORDS = "A description long enough to make the file larger than the import's memory. "
DESCRIPTION = WORDS * 6
# The memory test's rows are longer (twice the bytes a row): ten batches of them make a file
# over 5 MB larger than one batch, with half the rows to import (under tracemalloc, which
# multiplies an import's time by five, the rows are what costs).
LONG_DESCRIPTION = WORDS * 14
HEADER = "externalId,area,capabilityKey,name,maturity,confidence,evidence,tags,description\r\n"


def row(n: int, description: str = DESCRIPTION) -> str:
    return (
        f"BULK-{n:05d},data,data-platform,Asset number {n},{n % 5},evidenced,"
        f"Report {n}|https://example.nhs.uk/{n}.pdf,bulk;row-{n % 7},{description}\r\n"
    )


def file_bytes(rows: int, description: str = DESCRIPTION) -> int:
    return len(HEADER) + sum(len(row(n, description)) for n in range(rows))


async def sheet(rows: int = ROWS, description: str = DESCRIPTION) -> AsyncIterator[bytes]:
    """The file in 64 KiB chunks, made as it is sent (no Content-Length: a stream)."""
    buffer = [b"\xef\xbb\xbf" + HEADER.encode()]
    size = len(buffer[0])
    for n in range(rows):
        buffer.append(row(n, description).encode())
        size += len(buffer[-1])
        if size >= 65_536:
            yield b"".join(buffer)
            buffer, size = [], 0
    yield b"".join(buffer)


async def peak_memory_of_import(client: httpx.AsyncClient, rows: int) -> int:
    trust = await create_organisation(client, name=f"Trust of {rows}")
    tracemalloc.start()
    try:
        response = await client.post(
            f"/v1/organisations/{trust['id']}/assets/import",
            content=sheet(rows, LONG_DESCRIPTION),
            headers={"Content-Type": "text/csv"},
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200, response.text
    assert response.json()["created"] == rows
    return peak


async def test_the_import_holds_a_batch_not_the_file(client: httpx.AsyncClient) -> None:
    """Peak memory (Python allocations, tracemalloc) barely grows with the file: ten times the
    rows (one batch of the import's, then ten) cost less than half the extra bytes. Reading the
    file whole would cost at least twice them (the bytes and their text), before parsing a row."""
    small, large = BATCH_ROWS, 10 * BATCH_ROWS
    extra_bytes = file_bytes(large, LONG_DESCRIPTION) - file_bytes(small, LONG_DESCRIPTION)
    assert extra_bytes > 5_000_000
    peak_small = await peak_memory_of_import(client, small)
    peak_large = await peak_memory_of_import(client, large)
    growth = peak_large - peak_small
    assert growth < extra_bytes / 2, (
        f"peak {peak_small / 1e6:.1f} MB for {small} rows, {peak_large / 1e6:.1f} MB for {large}"
    )


async def test_ten_thousand_rows_import_export_and_reimport_unchanged(
    client: httpx.AsyncClient,
) -> None:
    trust = await create_organisation(client)
    url = f"/v1/organisations/{trust['id']}/assets"
    response = await client.post(
        f"{url}/import", content=sheet(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == ROWS

    exported = await client.get(url, params={"format": "csv"})
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == ROWS
    assert rows[9_999]["externalId"] == "BULK-09999"
    assert rows[9_999]["tags"] == "bulk; row-3"
    page = await client.get(url, params={"limit": 500})
    assert len(page.json()["items"]) == 500

    again = await client.post(
        f"{url}/import", content=exported.content, headers={"Content-Type": "text/csv"}
    )
    answer = again.json()
    listed = answer.pop("results")
    assert answer == {
        "dryRun": False,
        "rows": ROWS,
        "created": 0,
        "updated": 0,
        "unchanged": ROWS,
        "moreResults": ROWS - 1000,
    }
    # The answer names the first thousand rows, as a person counts them (the header is row 1).
    assert [r["row"] for r in listed] == list(range(2, 1002))
    assert {r["action"] for r in listed} == {"unchanged"}
