"""Where the real linked-device driver keeps the devices' keys (whatsmeow's device store).

whatsmeow keeps each paired device's identity, Signal sessions and pre-keys in tables of
its own (``whatsmeow_*``). They must outlive the process that holds the session (a restart,
or another worker taking the session over, resumes the device by its JID without a new
QR), so they live with Chatgate's own data:

- on PostgreSQL, in the schema ``whatsmeow`` of Chatgate's database (created when the first
  session starts; its tables by whatsmeow itself), reached with Chatgate's own URL: every
  worker that can reach the store can resume any device;
- on SQLite, in the file ``<database>.devices.db`` beside Chatgate's database (for
  ``chatgate.db``, ``chatgate.devices.db``): back it up with it.

``CHATGATE_WHATSAPP_WEB_DEVICE_STORE`` names another place (a ``postgres://`` URL or a
file). Chatgate keeps only the device's JID (encrypted, with the session) to find it there.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from chatgate.config import Settings
from chatgate.storage.database import postgres_dsn, sqlite_path

SCHEMA = "whatsmeow"
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_POSTGRES = ("postgres://", "postgresql://")


def device_store_url(settings: Settings) -> str:
    """The device store of ``settings``: a PostgreSQL URL or a SQLite file path."""
    if settings.whatsapp_web_device_store:
        return settings.whatsapp_web_device_store
    if settings.is_sqlite:
        path = sqlite_path(settings.database_url)
        if not path or path == ":memory:":
            raise ValueError(
                "CHATGATE_WHATSAPP_WEB_DEVICE_STORE: an in-memory database keeps no device "
                "keys; name a file or a postgres:// URL"
            )
        return str(Path(path).with_suffix(".devices.db"))
    return _in_schema(postgres_dsn(settings.database_url), SCHEMA)


def _in_schema(url: str, schema: str) -> str:
    """``url`` for whatsmeow's PostgreSQL driver, its tables in ``schema``: asyncpg's
    ``ssl`` is spelled ``sslmode`` there, and its default ``prefer`` is made explicit."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("sslmode", query.pop("ssl", "prefer"))
    query["search_path"] = schema
    return urlunsplit(parts._replace(query=urlencode(query)))


class DeviceStore:
    """The device store, made ready once per process before the first session starts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._ready = False
        self._lock = asyncio.Lock()

    @property
    def is_postgres(self) -> bool:
        """Whether the store is on PostgreSQL (else a SQLite file)."""
        return self.url.startswith(_POSTGRES)

    async def prepare(self) -> None:
        """Create the schema (PostgreSQL) or the folder (SQLite) the store lives in."""
        async with self._lock:
            if self._ready:
                return
            if self.is_postgres:
                async with self._postgres() as (conn, schema):
                    # Two workers may race to create it: the loser finds it there.
                    with contextlib.suppress(asyncpg.UniqueViolationError):
                        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            else:
                Path(self.url).parent.mkdir(parents=True, exist_ok=True)
            self._ready = True

    async def forget(self, jid: str) -> None:
        """Delete the device ``jid`` and, by whatsmeow's cascades, all its keys: what a
        logout does when the platform confirms it, done here when it could not."""
        if not self.is_postgres:
            await asyncio.to_thread(_forget_in_file, self.url, jid)
            return
        async with self._postgres() as (conn, _):
            with contextlib.suppress(asyncpg.UndefinedTableError):  # no device ever
                await conn.execute("DELETE FROM whatsmeow_device WHERE jid = $1", jid)

    @contextlib.asynccontextmanager
    async def _postgres(self) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
        """A connection to the store's database, in its schema; and the schema's name."""
        parts = urlsplit(self.url)
        query = dict(parse_qsl(parts.query))
        schema = query.get("search_path", SCHEMA)
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"search_path: {schema!r} is not a schema name")
        conn = await asyncpg.connect(
            urlunsplit(parts._replace(query="")),
            ssl=query.get("sslmode", "prefer"),
            server_settings={"search_path": schema},
        )
        try:
            yield conn, schema
        finally:
            await conn.close()


def _forget_in_file(path: str, jid: str) -> None:
    if not Path(path).exists():
        return
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA foreign_keys = ON")  # whatsmeow's cascades
        with conn, contextlib.suppress(sqlite3.OperationalError):  # no device table yet
            conn.execute("DELETE FROM whatsmeow_device WHERE jid = ?", (jid,))
    finally:
        conn.close()
