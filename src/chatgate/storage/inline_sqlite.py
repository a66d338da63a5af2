"""SQLite calls made on the event loop's own thread, not on a driver thread.

The asyncio SQLite driver runs every call on a thread of its own and hands the answer back
to the loop: two thread switches per call, and one statement is several calls. SQLite
answers Chatgate's small statements in tens of microseconds, while a thread switch can cost
far more than that on a busy or virtualised machine (measured on the 2-core bench machine:
about 450 µs per hand-off, against 38 µs for a whole insert). So the calls run inline.

Only waiting must not block the loop: the connection's own busy timeout is zero, and a call
refused because another process holds the lock (``SQLITE_BUSY``) is tried again after an
asyncio sleep, for up to ``busy_wait_seconds``. Every write transaction here begins with
``BEGIN IMMEDIATE``, so the lock is taken (or refused) before anything is written and a
refused call can simply be made again.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite

# The longest pause between two tries of a locked call.
_MAX_PAUSE = 0.05


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error)


class _InlineQueue:
    """Stands in for the driver's queue to its thread: runs each call at once.

    (SQLAlchemy's adapter puts some calls on that queue itself.)
    """

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except Exception as error:
            if future is not None and not future.done():
                future.set_exception(error)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the calling (event loop) thread."""

    def __init__(
        self, connector: Callable[[], sqlite3.Connection], *, busy_wait_seconds: float
    ) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _InlineQueue()  # type: ignore[assignment]
        self.busy_wait_seconds = busy_wait_seconds

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        pause = 0.001
        deadline: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
                deadline = deadline or loop.time() + self.busy_wait_seconds
                if loop.time() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, _MAX_PAUSE)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()

    def stop(self) -> None:
        """Close the connection (there is no thread to stop)."""
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        """Close the connection."""
        self.stop()


def inline_connector(path: str, *, busy_wait_seconds: float) -> Callable[[], Any]:
    """An ``async_creator`` for SQLAlchemy: inline connections to the file at ``path``."""

    async def connect() -> InlineConnection:
        def open_file() -> sqlite3.Connection:
            # The pool may close a connection from another thread (at interpreter exit).
            return sqlite3.connect(path, isolation_level=None, check_same_thread=False)

        return await InlineConnection(open_file, busy_wait_seconds=busy_wait_seconds)

    return connect
