"""A small HTTP/1.1 load generator in its own process, for what wrk does not report: the
latency of each status separately (served vs refused under overload). Also the fallback when
wrk is not installed.

    python -m bench.loadgen URL --connections 256 --duration 10 [--header 'Name: value']

Keep-alive connections on asyncio streams (uvloop), bounded by time, by a cap on requests and
by a per-request timeout; 127.0.0.1 only. Prints one JSON object.
"""

import argparse
import asyncio
import json
import statistics
import time
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

import uvloop

REQUEST_TIMEOUT = 30.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status, and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    chunked = False
    keep = True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            keep = False
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


async def _connection(
    host: str, port: int, request: bytes, deadline: float, budget: list[int], out: dict[str, Any]
) -> None:
    stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        started = time.perf_counter()
        try:
            if stream is None:
                stream = await asyncio.wait_for(
                    asyncio.open_connection(host, port), REQUEST_TIMEOUT
                )
            reader, writer = stream
            writer.write(request)
            status, keep = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            out["errors"] += 1
            _close(stream)
            stream = None
            await asyncio.sleep(0.01)
            continue
        except TimeoutError:
            out["timeouts"] += 1
            _close(stream)
            stream = None
            continue
        out["latencies"][status].append(time.perf_counter() - started)
        if not keep:
            _close(stream)
            stream = None
    _close(stream)


def _close(stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    if stream is not None:
        stream[1].close()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(
    url: str,
    *,
    connections: int,
    duration: float,
    headers: list[str],
    method: str = "GET",
    body: str = "",
    max_requests: int = 1_000_000,
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit("the load generator targets 127.0.0.1 only")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", *headers]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body.encode())}"]
    request = ("\r\n".join(lines) + "\r\n\r\n" + body).encode()
    out: dict[str, Any] = {"errors": 0, "timeouts": 0, "latencies": defaultdict(list)}
    started = time.monotonic()
    deadline = started + duration
    budget = [max_requests]
    await asyncio.gather(
        *(_connection(host, port, request, deadline, budget, out) for _ in range(connections))
    )
    elapsed = time.monotonic() - started
    by_status = {}
    for status, values in sorted(out["latencies"].items()):
        by_status[str(status)] = {
            "count": len(values),
            "p50_ms": round(_percentile(values, 0.50) * 1000, 2),
            "p99_ms": round(_percentile(values, 0.99) * 1000, 2),
            "max_ms": round(max(values) * 1000, 2),
            "mean_ms": round(statistics.fmean(values) * 1000, 2),
        }
    everything = [v for values in out["latencies"].values() for v in values]
    return {
        "seconds": round(elapsed, 2),
        "requests": len(everything),
        "rps": round(len(everything) / elapsed, 1),
        "p50_ms": round(_percentile(everything, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(everything, 0.99) * 1000, 2),
        "errors": out["errors"],
        "timeouts": out["timeouts"],
        "by_status": by_status,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    args = parser.parse_args()
    result = uvloop.run(
        run(
            args.url,
            connections=args.connections,
            duration=args.duration,
            headers=args.header,
            method=args.method,
            body=args.body,
            max_requests=args.max_requests,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
