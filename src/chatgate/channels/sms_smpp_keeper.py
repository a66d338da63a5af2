"""Holding an SMPP connection: a bound session in this process's pool, whether or not
anything is being sent.

An SMSC hands users' messages and receipts only to a bound session: a connection that only
receives, or any connection after a restart, would get nothing until its next send. So the
worker's connection keeper (:mod:`chatgate.services.held_connections`, one worker per
connection however many run) holds every SMPP connection and, through this plug, binds the
ones it holds in :func:`~chatgate.channels.sms_smpp_pool.session_pool`.

A removed connection's session is unbound at once and never bound again in this process
(:meth:`~chatgate.channels.sms_smpp_pool.SessionPool.remove_connection`); a changed one is
bound again with its new credentials; one another worker holds now is closed here. A send
may still bind a connection in a worker that does not hold it (sends are not held: an SMSC
takes submits on any bind): such a session is left open unless its settings went stale.
A session that loses its connection binds again by itself.
"""

from __future__ import annotations

from typing import Any

from chatgate.channels.base import ChannelAdapter
from chatgate.channels.sms_smpp import SmppAdapter
from chatgate.channels.sms_smpp_pool import SessionPool
from chatgate.channels.sms_smpp_session import SessionConfig

SMS = "sms"


class SmppHolding:
    """The SMPP plug of the connection keeper: binds the connections this worker holds."""

    channel_type = SMS

    def __init__(self, pool: SessionPool) -> None:
        self.pool = pool
        # The connections bound because this worker holds them.
        self._held: set[str] = set()

    def config_of(self, adapter: ChannelAdapter[Any]) -> SessionConfig | None:
        """The session settings of an SMPP connection (an ``sms`` connection of another
        provider needs no holding)."""
        smpp = getattr(adapter, "provider", adapter)
        return smpp.session_config if isinstance(smpp, SmppAdapter) else None

    def open_ids(self) -> set[str]:
        """The connections with a session in this process, whoever opened it."""
        return self.pool.connection_ids()

    async def open(self, connection_id: str, config: object) -> None:
        """Bind the connection (again, if its settings changed)."""
        if not isinstance(config, SessionConfig):
            raise TypeError(f"an SMPP connection is bound with a SessionConfig, not {config!r}")
        self.pool.session(connection_id, config)
        self._held.add(connection_id)

    async def close(self, connection_id: str, config: object) -> None:
        """Unbind a session this worker no longer holds, or one a send opened with what
        are stale settings now."""
        if connection_id in self._held or self.pool.config(connection_id) != config:
            await self.pool.close_connection(connection_id)
        self._held.discard(connection_id)

    async def remove(self, connection_id: str) -> None:
        """Unbind the removed connection for good."""
        self._held.discard(connection_id)
        await self.pool.remove_connection(connection_id)

    async def shutdown(self) -> None:
        """Unbind every session of this process."""
        self._held.clear()
        await self.pool.close()
