"""The database handle: one async engine, read and write transactions.

On SQLite (the embedded default) the file runs in WAL mode with ``synchronous=FULL`` so that
a commit survives a crash; writers take the lock up front (``BEGIN IMMEDIATE``) and are
serialised in-process, because SQLite allows one writer and a deferred transaction that
upgrades to writing can fail instead of waiting. Its calls run on the event loop's thread
(``inline_sqlite``): they are far shorter than a hand-off to a driver thread. On PostgreSQL
every transaction is an ordinary one with ``synchronous_commit=on``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import orjson
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from chatgate.config import Settings
from chatgate.storage.group_commit import GroupCommitter
from chatgate.storage.inline_sqlite import inline_connector
from chatgate.storage.staged import staging

T = TypeVar("T")

_IMMEDIATE = "chatgate_immediate"
# How long a SQLite call waits for another process's lock before it fails.
SQLITE_BUSY_WAIT_SECONDS = 15.0


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def postgres_dsn(database_url: str) -> str:
    """A plain ``postgresql://`` DSN (for asyncpg itself) from any PostgreSQL URL we accept."""
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql://" + database_url[len(prefix) :]
    return database_url


def sqlite_path(database_url: str) -> str:
    """The file of a ``sqlite:///…`` URL."""
    return make_url(database_url).database or ""


def build_engine(settings: Settings) -> AsyncEngine:
    """Create the async engine for ``settings.database_url`` with Chatgate's pragmas."""
    url = settings.async_database_url
    if settings.is_sqlite:
        engine = create_async_engine(
            url,
            async_creator=inline_connector(
                sqlite_path(url), busy_wait_seconds=SQLITE_BUSY_WAIT_SECONDS
            ),
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            pool_size=8,
            max_overflow=8,
            # Every transaction here ends in COMMIT or ROLLBACK before the connection goes
            # back, so the pool's own rollback on return would only cost a call.
            pool_reset_on_return=None,
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args={"server_settings": {"synchronous_commit": "on"}},
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            # Never wait inside SQLite (it would block the event loop): a locked call is
            # retried with asyncio sleeps instead (see ``inline_sqlite``).
            "PRAGMA busy_timeout=0",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: SyncConnection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Owns the engine; hands out read and write transactions."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = build_engine(settings)
        self.is_sqlite = settings.is_sqlite
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._group = GroupCommitter(self.write)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A transaction for reading; it sees one consistent snapshot."""
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction for writing, committed on normal exit and rolled back on error.

        Writes staged in it (``staged(conn)``) run just before the commit.
        """
        if self._write_lock is None:
            async with self.engine.connect() as conn, conn.begin(), staging(conn):
                yield conn
            return
        async with self._write_lock, self.engine.connect() as raw:
            conn = await raw.execution_options(**{_IMMEDIATE: True})
            async with conn.begin(), staging(conn):
                yield conn

    async def transact(self, unit: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``unit`` in a write transaction and return its result after the commit.

        Concurrent units share one transaction and one durable commit (group commit). A
        unit reports a refusal by returning it: a unit that raises is run again alone (see
        ``group_commit``).
        """
        return await self._group.run(unit)

    async def ping(self) -> None:
        """Raise if the store cannot answer a trivial query."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Finish queued units of work and close every pooled connection."""
        await self._group.close()
        await self.engine.dispose()
