"""The baseline: an ASGI app that does nothing per request but one durable single-row insert.

Served by the same server (uvicorn) as the gateway, on the same store with the same
durability (SQLite WAL with ``synchronous=FULL``, PostgreSQL with ``synchronous_commit=on``),
it is the floor the gateway's full send path is measured against. Each request is its own
transaction, as a straightforward service would do it.

Run with ``uvicorn bench.baseline:app``; the store is ``BENCH_DATABASE_URL``.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import asyncpg

_URL = os.environ.get("BENCH_DATABASE_URL", "sqlite:///bench-baseline.db")
_ANSWER = b'{"status":"queued"}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_ANSWER)).encode())]


class Store:
    """One insert per call, committed durably before it returns."""

    async def open(self) -> None:
        if _URL.startswith("sqlite"):
            # Calls made on the loop's thread, as the gateway makes them (``inline_sqlite``):
            # the baseline must not be slowed by a driver thread the gateway does not use.
            self.sqlite = sqlite3.connect(_URL.split(":///", 1)[1], isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=15000"):
                self.sqlite.execute(f"PRAGMA {pragma}")
            self.sqlite.execute(
                "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body BLOB)"
            )
            self.pool = None
        else:
            self.pool = await asyncpg.create_pool(_URL, min_size=10, max_size=10)
            await self.pool.execute(
                "CREATE TABLE IF NOT EXISTS rows (id BIGSERIAL PRIMARY KEY, body BYTEA)"
            )

    async def insert(self, body: bytes) -> None:
        if self.pool is not None:
            await self.pool.execute("INSERT INTO rows (body) VALUES ($1)", body)
            return
        # One transaction per request, each with its own durable commit.
        self.sqlite.execute("BEGIN IMMEDIATE")
        self.sqlite.execute("INSERT INTO rows (body) VALUES (?)", (body,))
        self.sqlite.execute("COMMIT")


store = Store()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Insert the request's body, answer 202."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await store.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/healthz":
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": _ANSWER})
        return
    await store.insert(body)
    await send({"type": "http.response.start", "status": 202, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _ANSWER})
