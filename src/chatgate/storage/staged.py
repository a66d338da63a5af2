"""Writes staged during a write transaction and run together just before it commits.

Group commit puts many requests into one transaction, and each request's few inserts, run
one by one, cost far more in statement overhead (compilation cache, parameter processing,
the driver round trip) than in the store's own work. Staged, the rows of every request in
the transaction go in as one ``executemany`` per statement, at the end.

Staged rows are not visible to reads in the same transaction until the flush: stage only
rows that nothing reads back before the commit (a new message, its first event, its jobs,
an idempotency key's stored answer). Inserts run first, parents before children (the
tables' foreign-key order), then every other statement in the order it was first staged,
and last the statements staged to run once per transaction (``add_once``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Executable, Insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase

from chatgate.storage.tables import metadata

_INFO_KEY = "chatgate.staged_writes"
_TABLE_ORDER = {table.name: index for index, table in enumerate(metadata.sorted_tables)}


class StagedWrites:
    """Parameter rows collected per statement, run as one ``executemany`` each."""

    def __init__(self) -> None:
        # Keyed by the statement object itself: callers stage prebuilt, module-level
        # statements so that one statement gathers the rows of every request.
        self._pending: dict[int, tuple[UpdateBase, list[dict[str, Any]]]] = {}
        # Statements that need running once per transaction however often they are staged.
        self._once: dict[str, tuple[Executable, dict[str, Any]]] = {}

    def add(self, statement: UpdateBase, rows: Sequence[dict[str, Any]]) -> None:
        """Stage ``rows`` for ``statement`` (all of one statement's rows share their keys)."""
        if rows:
            self._pending.setdefault(id(statement), (statement, []))[1].extend(rows)

    def add_once(self, name: str, statement: Executable, params: dict[str, Any]) -> None:
        """Stage ``statement`` to run once, after the rows, whatever the times it is staged
        under ``name`` (a notification every request of a group commit asks for, say)."""
        self._once.setdefault(name, (statement, params))

    def _ordered(self) -> list[tuple[UpdateBase, list[dict[str, Any]]]]:
        staged = list(self._pending.values())

        def position(item: tuple[int, tuple[UpdateBase, list[dict[str, Any]]]]) -> tuple[int, int]:
            order, (statement, _) = item
            if isinstance(statement, Insert):
                return 0, _TABLE_ORDER.get(statement.table.name, len(_TABLE_ORDER))
            return 1, order

        return [item for _, item in sorted(enumerate(staged), key=position)]

    async def flush(self, conn: AsyncConnection) -> None:
        """Run everything staged so far on ``conn`` and forget it."""
        ordered, self._pending = self._ordered(), {}
        once, self._once = self._once, {}
        for statement, rows in ordered:
            await conn.execute(statement, rows)
        for single, params in once.values():
            await conn.execute(single, params)


def staged(conn: AsyncConnection) -> StagedWrites:
    """The staged writes of ``conn``'s transaction (one opened by ``Database.write``)."""
    writes = staged_or_none(conn)
    if writes is None:
        raise RuntimeError("staged writes need a transaction opened by Database.write")
    return writes


def staged_or_none(conn: AsyncConnection) -> StagedWrites | None:
    """The staged writes of ``conn``'s transaction, if it stages any."""
    writes = conn.info.get(_INFO_KEY)
    return writes if isinstance(writes, StagedWrites) else None


@asynccontextmanager
async def staging(conn: AsyncConnection) -> AsyncIterator[StagedWrites]:
    """Collect staged writes on ``conn`` and run them when the block ends without error."""
    writes = StagedWrites()
    # ``info`` outlives this checkout of the pooled connection: always take the writes off
    # (through the dict itself: a failed transaction refuses even ``conn.info`` until rolled back).
    info = conn.info
    info[_INFO_KEY] = writes
    try:
        yield writes
        await writes.flush(conn)
    finally:
        info.pop(_INFO_KEY, None)
