"""The memory a CSV export costs the server: its resident memory sampled while one export of
the ICS's assets streams to a client that reads it all. The target is growth, not size: a
streamed export holds a batch, not the file."""

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.server import process_tree

SAMPLE_SECONDS = 0.02
PAGE = 4096


def resident_bytes(pid: int) -> int:
    """Resident memory of a process and its children (uvicorn's workers), from /proc."""
    total = 0
    for current in process_tree(pid):
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total


def export_growth(base: str, pid: int, path: str, authorization: str) -> dict[str, Any]:
    """Stream one export to the end; the server's peak resident memory meanwhile, less what
    it held before."""
    before = resident_bytes(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, resident_bytes(pid))
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.monotonic()
    lines = size = 0
    try:
        with httpx.stream(
            "GET", base + path, headers={"Authorization": authorization}, timeout=300
        ) as answer:
            answer.raise_for_status()
            for chunk in answer.iter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
    finally:
        done.set()
        sampler.join()
    return {
        "rows": max(0, lines - 1),  # the header
        "bytes": size,
        "seconds": round(time.monotonic() - began, 2),
        "before_mb": round(before / 2**20, 1),
        "peak_mb": round(peak / 2**20, 1),
        "growth_mb": round((peak - before) / 2**20, 1),
    }
