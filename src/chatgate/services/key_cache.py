"""Authentication without a query on the hot path.

Each process keeps the keys it has seen in memory, found by the SHA-256 of the secret.
Every change to a key bumps a version row in the same transaction; each process reads that
one row every ``refresh_seconds`` (at most a second) and drops its cache when it moved, so a
revocation takes effect everywhere within that time.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

import structlog

from chatgate.domain.keys import hash_secret
from chatgate.domain.records import ApiKey
from chatgate.storage import keys as key_store
from chatgate.storage.database import Database

log = structlog.get_logger(__name__)

_MAX_ENTRIES = 50_000


class KeyCache:
    """Secret hash -> key (or ``None`` for an unknown secret), dropped on any key change."""

    def __init__(self, database: Database, refresh_seconds: float) -> None:
        self.database = database
        self.refresh_seconds = refresh_seconds
        self._entries: OrderedDict[str, ApiKey | None] = OrderedDict()
        self._version: int | None = None
        # Bumped on every drop: a lookup that started before a drop must not store what it
        # read, because it may have read the key as it was before the change.
        self._generation = 0
        self._refreshed = asyncio.Condition()
        self._refresh_count = 0

    async def lookup(self, secret: str) -> ApiKey | None:
        """The key for ``secret`` if it exists (revoked or not), from memory when possible."""
        digest = hash_secret(secret)
        if digest in self._entries:
            self._entries.move_to_end(digest)
            return self._entries[digest]
        generation = self._generation
        async with self.database.read() as conn:
            key = await key_store.find_key_by_hash(conn, digest)
        if generation == self._generation:
            self._entries[digest] = key
            if len(self._entries) > _MAX_ENTRIES:
                self._entries.popitem(last=False)
        return key

    def clear(self) -> None:
        """Forget every cached key."""
        self._generation += 1
        self._entries.clear()

    async def refresh(self) -> None:
        """Read the version once; drop the cache if any key changed since the last read."""
        async with self.database.read() as conn:
            version = await key_store.read_cache_version(conn, key_store.KEYS_CACHE)
        if version != self._version:
            self.clear()
            self._version = version
        async with self._refreshed:
            self._refresh_count += 1
            self._refreshed.notify_all()

    async def wait_for_refresh(self) -> None:
        """Return once a refresh that started after this call has finished."""
        async with self._refreshed:
            target = self._refresh_count + 2  # the one in progress may have read too early
            await self._refreshed.wait_for(lambda: self._refresh_count >= target)

    async def run(self) -> None:
        """Refresh every ``refresh_seconds`` until cancelled."""
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("key_cache.refresh_failed")
            await asyncio.sleep(self.refresh_seconds)
