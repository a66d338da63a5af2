"""Group commit for SQLite: many writers' units of work, one transaction, one fsync.

SQLite has one writer at a time and a durable commit costs an fsync. Units of work that
arrive while a transaction is running are queued and run together in the next one, each
inside a savepoint so that one unit's failure undoes only that unit. Every waiter is
answered after the shared COMMIT, so nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

log = structlog.get_logger(__name__)

T = TypeVar("T")
Unit = Callable[[AsyncConnection], Awaitable[Any]]
Opener = Callable[[], contextlib.AbstractAsyncContextManager[AsyncConnection]]

MAX_GROUP = 256


class GroupCommitter:
    """Runs queued units of work together, one transaction per group."""

    def __init__(self, open_transaction: Opener) -> None:
        self._open = open_transaction
        self._queue: asyncio.Queue[tuple[Unit, asyncio.Future[Any]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def run(self, unit: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``unit`` in the next group; return its result once the group is committed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="group-commit")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((unit, future))
        result: T = await asyncio.shield(future)
        return result

    async def close(self) -> None:
        """Stop the committer once the queue is empty."""
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            group = [await self._queue.get()]
            while len(group) < MAX_GROUP and not self._queue.empty():
                group.append(self._queue.get_nowait())
            try:
                await self._commit(group)
            finally:
                for _ in group:
                    self._queue.task_done()

    async def _commit(self, group: list[tuple[Unit, asyncio.Future[Any]]]) -> None:
        answers: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            async with self._open() as conn:
                for unit, future in group:
                    try:
                        async with _savepoint(conn):
                            answers.append((future, await unit(conn), None))
                    except Exception as refused:
                        answers.append((future, None, refused))
        except Exception as failure:
            log.exception("group_commit.failed", units=len(group))
            for _, future in group:
                if not future.done():
                    future.set_exception(failure)
            return
        for future, result, error in answers:
            if future.done():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)


@contextlib.asynccontextmanager
async def _savepoint(conn: AsyncConnection) -> AsyncIterator[None]:
    async with conn.begin_nested():
        yield
