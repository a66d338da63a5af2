"""SQLite calls run on the loop's thread; waiting for another process's lock does not block it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from chatgate.storage.inline_sqlite import inline_connector


def _holder(path: Path) -> sqlite3.Connection:
    """Another process's connection, as SQLite sees it: holds the write lock."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)")
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_calls_run_on_the_loops_own_thread(tmp_path: Path) -> None:
    connection = await inline_connector(str(tmp_path / "a.db"), busy_wait_seconds=1)()
    cursor = await connection.execute("SELECT 1")
    assert await cursor.fetchall() == [(1,)]
    assert connection._thread.ident is None  # the driver's thread never started
    await connection.close()


async def test_a_locked_call_waits_without_blocking_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    other = _holder(path)
    connection = await inline_connector(str(path), busy_wait_seconds=10)()
    await connection.execute("PRAGMA busy_timeout=0")
    other_work_done = asyncio.Event()

    async def other_work() -> None:
        for _ in range(5):
            await asyncio.sleep(0.005)
        other_work_done.set()

    begin = asyncio.create_task(connection.execute("BEGIN IMMEDIATE"))
    working = asyncio.create_task(other_work())
    # The loop keeps running other work while the call waits for the lock.
    await other_work_done.wait()
    assert not begin.done()
    other.execute("COMMIT")
    await begin
    await working
    await connection.execute("INSERT INTO t VALUES ('mine')")
    await connection.execute("COMMIT")
    assert other.execute("SELECT v FROM t").fetchall() == [("mine",)]
    other.close()
    await connection.close()


async def test_a_lock_held_too_long_fails_the_call(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    other = _holder(path)
    connection = await inline_connector(str(path), busy_wait_seconds=0.05)()
    await connection.execute("PRAGMA busy_timeout=0")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await connection.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()
    await connection.close()
