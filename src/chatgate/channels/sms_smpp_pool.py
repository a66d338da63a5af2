"""The process's SMPP sessions, one per channel connection, and where their events go.

An SMPP connection outlives any one send, so the sessions live here, process-wide: the
adapter asks :func:`session_pool` for its connection's session, which is started on first
use (and replaced when the connection's credentials or settings change). The worker process
installs an :class:`EventSink` when it starts (see :mod:`chatgate.channels.sms_smpp_events`)
and closes the pool when it stops: every session unbinds.

``channels/`` never touches the store, so receipts and users' messages are handed to the
sink as the same :class:`InboundEvent` values that webhooks become; the sink records them
and only then does the session answer the SMSC (``deliver_sm_resp``). A process without a
sink (an API-only process) answers ``deliver_sm`` with a temporary error, so that the SMSC
hands it to a process that can record it. Session states (``bound``, ``bind_failed``,
``disconnected``) go to the sink too, which makes them the connection's status.

Which connections are kept bound, and by which worker, is decided by the worker's
connection keeper through :mod:`chatgate.channels.sms_smpp_keeper`; a connection it finds
removed is closed here for good, so that a send that read the connection just before it
went binds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from smpplib import command

from chatgate.channels.base import InboundEvent
from chatgate.channels.sms_smpp_inbound import ConnectionInbound, platform_id
from chatgate.channels.sms_smpp_session import SessionConfig, SmppSession


class EventSink(Protocol):
    """Where a connection's SMPP events are recorded (provided by a service)."""

    async def record(self, connection_id: str, events: Sequence[InboundEvent]) -> None:
        """Store the events in one transaction; raise if they could not be stored."""

    async def session_state(self, connection_id: str, state: str, status: int | None) -> None:
        """Note a session's new state (``bound``, ``bind_failed`` with the SMSC's status,
        ``disconnected``)."""


class NoSink(Exception):
    """This process records no SMPP events (the SMSC will deliver them again elsewhere)."""


class ConnectionRemoved(Exception):
    """The connection was removed: its session was closed and is never opened again."""


@dataclass
class _Entry:
    config: SessionConfig
    session: SmppSession
    inbound: ConnectionInbound


class SessionPool:
    """Sessions by connection id, with each connection's receipt and MO state."""

    def __init__(self) -> None:
        self.sink: EventSink | None = None
        self._entries: dict[str, _Entry] = {}
        self._inbound: dict[str, ConnectionInbound] = {}
        # Connection ids are never reused: a removed one must not be bound again by a send
        # that read the connection just before it went.
        self._removed: set[str] = set()

    def set_sink(self, sink: EventSink | None) -> None:
        """Record events through ``sink`` from now on (``None``: record none)."""
        self.sink = sink

    def session(self, connection_id: str, config: SessionConfig) -> SmppSession:
        """The connection's session, started if new; a changed config starts a new one.

        Raises :class:`ConnectionRemoved` for a connection removed meanwhile.
        """
        if connection_id in self._removed:
            raise ConnectionRemoved(connection_id)
        entry = self._entries.get(connection_id)
        if entry is not None and entry.config == config:
            return entry.session
        if entry is not None:
            old = entry.session
            asyncio.get_running_loop().create_task(old.close())
        # The tracker and reassembly belong to the connection: they outlive sessions.
        inbound = self._inbound.setdefault(connection_id, ConnectionInbound())

        async def on_deliver(deliver_sm: command.Command) -> None:
            await self._deliver(connection_id, inbound, deliver_sm)

        async def on_state(state: str, status: int | None) -> None:
            if self.sink is not None:
                await self.sink.session_state(connection_id, state, status)

        session = SmppSession(config, on_deliver=on_deliver, on_state=on_state)
        self._entries[connection_id] = _Entry(config, session, inbound)
        session.start()
        return session

    def inbound(self, connection_id: str) -> ConnectionInbound:
        """The connection's receipt tracker and MO reassembly."""
        return self._inbound.setdefault(connection_id, ConnectionInbound())

    async def _deliver(
        self, connection_id: str, inbound: ConnectionInbound, deliver_sm: command.Command
    ) -> None:
        if self.sink is None:
            raise NoSink("no event sink in this process")
        events = inbound.events(deliver_sm)
        if events:
            await self.sink.record(connection_id, events)

    async def submit_message(
        self, connection_id: str, config: SessionConfig, parts: Sequence[dict[str, Any]]
    ) -> str:
        """Submit a message's parts in order; the message's platform id (see
        :func:`~chatgate.channels.sms_smpp_inbound.platform_id`)."""
        session = self.session(connection_id, config)
        inbound = self.inbound(connection_id)
        token = inbound.tracker.expect(len(parts))
        ids: list[str] = []
        early: list[InboundEvent] = []
        try:
            for index, fields in enumerate(parts):
                part_id = await session.submit(**fields)
                ids.append(part_id)
                early += inbound.tracker.part_sent(token, index, part_id)
        except BaseException:
            inbound.tracker.abandon(token)
            raise
        if early and self.sink is not None:
            # Every part was receipted before the last part's id came back: pass the
            # outcome on now (it is matched once the send's result is stored).
            await self.sink.record(connection_id, early)
        return platform_id(ids)

    async def close(self) -> None:
        """Unbind and close every session."""
        entries, self._entries = list(self._entries.values()), {}
        with contextlib.suppress(Exception):
            await asyncio.gather(*(entry.session.close() for entry in entries))

    def connection_ids(self) -> set[str]:
        """The connections that have a session in this process."""
        return set(self._entries)

    def config(self, connection_id: str) -> SessionConfig | None:
        """What the connection's session was started with (``None``: it has none)."""
        entry = self._entries.get(connection_id)
        return None if entry is None else entry.config

    async def close_connection(self, connection_id: str) -> None:
        """Unbind and close one connection's session (another process keeps it now)."""
        entry = self._entries.pop(connection_id, None)
        if entry is not None:
            await entry.session.close()

    async def remove_connection(self, connection_id: str) -> None:
        """Unbind and close a removed connection's session, for good."""
        self._removed.add(connection_id)
        self._inbound.pop(connection_id, None)
        await self.close_connection(connection_id)


# A session's reader, writer and tasks belong to the event loop that started them, so each
# loop has a pool of its own: a process runs one loop in production, but an embedded
# gateway (tests, schemathesis' portal thread) runs on another, and closing sessions of a
# loop that no longer runs would wait forever.
_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SessionPool] = (
    weakref.WeakKeyDictionary()
)


def session_pool() -> SessionPool:
    """The session pool of the running event loop."""
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = SessionPool()
    return pool
