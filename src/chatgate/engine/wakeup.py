"""Wake-ups: how a committed job reaches an idle worker without tight polling.

In the embedded mode the API and the worker share a process and an in-process event is
enough. On PostgreSQL every job insert also sends ``NOTIFY chatgate_jobs`` inside its
transaction (delivered at commit), and each worker process listens on one connection of
its own, so any number of API and worker processes wake each other. On SQLite a worker
process also watches the file's ``data_version``, which changes whenever another
connection commits, so that jobs an API process of its own (``serve --no-worker``) queues
are taken at once rather than at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence

import asyncpg
import structlog

log = structlog.get_logger(__name__)


class LocalWakeup:
    """In-process wake-up for work committed by this process."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Say that new work was committed."""
        self._event.set()

    async def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a notification; ``True`` if one came."""
        try:
            async with asyncio.timeout(seconds):
                await self._event.wait()
        except TimeoutError:
            return False
        finally:
            self._event.clear()
        return True


def _setter(event: asyncio.Event) -> Callable[[object], None]:
    return lambda _connection: event.set()


class PostgresListener:
    """Listens on NOTIFY channels and passes each notification to that channel's wake-up."""

    def __init__(
        self, dsn: str, wakeups: Mapping[str, LocalWakeup], *, retry_seconds: float = 1.0
    ) -> None:
        self.dsn = dsn
        self.wakeups = dict(wakeups)
        self.retry_seconds = retry_seconds
        self.connected = asyncio.Event()

    def _on_notification(
        self, _connection: object, _pid: int, channel: str, _payload: object
    ) -> None:
        self.wakeups[channel].notify()

    async def run(self) -> None:
        """Stay subscribed until cancelled, reconnecting when the connection drops."""
        while True:
            try:
                connection = await asyncpg.connect(self.dsn)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("wakeup.connect_failed", error=str(error))
                await asyncio.sleep(self.retry_seconds)
                continue
            lost = asyncio.Event()
            connection.add_termination_listener(_setter(lost))
            try:
                for channel in self.wakeups:
                    await connection.add_listener(channel, self._on_notification)
                self.connected.set()
                # Anything committed while we were not listening is due now.
                for wakeup in self.wakeups.values():
                    wakeup.notify()
                await lost.wait()
                log.warning("wakeup.connection_lost")
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)


class SqliteCommitWatch:
    """Notifies ``wakeups`` when some other connection commits to the SQLite file at ``path``.

    ``PRAGMA data_version`` reads no table and costs microseconds: checked every
    ``interval`` seconds it costs a fraction of a percent of a core, and a job committed by
    another process waits at most ``interval`` for its worker.
    """

    def __init__(self, path: str, wakeups: Sequence[LocalWakeup], interval: float) -> None:
        self.path = path
        self.wakeups = tuple(wakeups)
        self.interval = interval

    async def run(self) -> None:
        """Watch until cancelled."""
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            seen = _data_version(connection)
            while True:
                await asyncio.sleep(self.interval)
                version = _data_version(connection)
                if version != seen:
                    seen = version
                    for wakeup in self.wakeups:
                        wakeup.notify()
        finally:
            connection.close()


def _data_version(connection: sqlite3.Connection) -> int:
    row = connection.execute("PRAGMA data_version").fetchone()
    return int(row[0])
