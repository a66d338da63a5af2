"""A customer's webhook receiver for the benchmark: answers 200, after a delay if asked.

Run with ``uvicorn bench.receiver:app``; ``BENCH_RECEIVER_DELAY`` is the delay in seconds.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

_DELAY = float(os.environ.get("BENCH_RECEIVER_DELAY", "0"))
_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"2")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read the body, wait if slow, answer ``ok``."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    if _DELAY and scope["path"] != "/healthz":
        await asyncio.sleep(_DELAY)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"ok"})
