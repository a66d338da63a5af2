"""A small HTTP/1.1 load generator, run in a process of its own.

Requests go over keep-alive connections as pre-built bytes; responses are read by their
Content-Length. Closed loop: each connection sends its next request when the last answer
came. Open loop: requests are due at a fixed rate whatever the answers do, and a
request's latency counts from when it was due, so a slow server cannot hide its queue.

Prints one JSON object: sent, ok, errors, seconds, rate, and latency percentiles in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Tally:
    """What a run saw."""

    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Connection:
    """One keep-alive connection that sends a request and reads its answer."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, payload: bytes) -> int:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(payload)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            self.reader = None


async def _exchange(connection: Connection, payload: bytes, since: float, tally: Tally) -> None:
    """Send one request and count its answer, its latency measured from ``since``."""
    try:
        status = await connection.request(payload)
    except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
        tally.errors += 1
        connection.close()
        return
    tally.latencies.append(time.perf_counter() - since)
    tally.statuses[status] = tally.statuses.get(status, 0) + 1
    if 200 <= status < 300:
        tally.ok += 1
    else:
        tally.errors += 1


def request_factory(url: str, body_template: str, headers: list[str]) -> Callable[[int], bytes]:
    """Build request ``n``: ``{n}`` in the body and headers is replaced by the number."""
    parts = urlsplit(url)
    path = parts.path or "/"
    prefix = os.urandom(4).hex()

    def build(n: int) -> bytes:
        body = body_template.replace("{n}", str(n)).replace("{run}", prefix).encode()
        lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json"]
        lines += [h.replace("{n}", str(n)).replace("{run}", prefix) for h in headers]
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    return build


async def _closed(
    host: str, port: int, build: Callable[[int], bytes], concurrency: int, seconds: float
) -> tuple[Tally, float]:
    tally = Tally()
    counter = iter(range(10**12))
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        connection = Connection(host, port)
        try:
            while time.perf_counter() < deadline:
                await _exchange(connection, build(next(counter)), time.perf_counter(), tally)
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return tally, time.perf_counter() - started


async def _open(
    host: str,
    port: int,
    build: Callable[[int], bytes],
    rate: float,
    connections: int,
    seconds: float,
) -> tuple[Tally, float]:
    tally = Tally()
    total = int(rate * seconds)
    next_slot = iter(range(total))
    start = time.perf_counter() + 0.05

    async def loop() -> None:
        connection = Connection(host, port)
        try:
            for slot in next_slot:
                due = start + slot / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await _exchange(connection, build(slot), due, tally)
        finally:
            connection.close()

    await asyncio.gather(*(loop() for _ in range(connections)))
    return tally, time.perf_counter() - start


def main() -> None:
    """Run one load and print what it saw as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, help="JSON body; {n} is the request number")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64, help="closed loop")
    parser.add_argument("--rate", type=float, help="open loop: requests per second")
    parser.add_argument("--connections", type=int, default=256, help="open loop")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    build = request_factory(args.url, args.body, args.header)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if args.rate:
        tally, elapsed = asyncio.run(
            _open(host, port, build, args.rate, args.connections, args.seconds)
        )
    else:
        tally, elapsed = asyncio.run(_closed(host, port, build, args.concurrency, args.seconds))
    ms = [value * 1000 for value in tally.latencies]
    print(
        json.dumps(
            {
                "sent": tally.ok + tally.errors,
                "ok": tally.ok,
                "errors": tally.errors,
                "statuses": tally.statuses,
                "seconds": round(elapsed, 3),
                "rate": round(tally.ok / elapsed, 1) if elapsed else 0.0,
                "p50": round(percentile(ms, 0.50), 2),
                "p95": round(percentile(ms, 0.95), 2),
                "p99": round(percentile(ms, 0.99), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
