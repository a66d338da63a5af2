"""Holding the channel connections of one type: the store's side of a platform's plug-in.

A platform whose connections must be kept open by one worker (a bind to its server)
provides a :class:`ConnectionPlug`, which knows only its own connections in this process
(``channels/`` never touches the store). :class:`ChannelHolding` is the
:class:`~chatgate.services.held_connections.HeldKind` that reads the stored connections of
the plug's channel type, builds their adapters and asks the plug which want holding and with
what settings; the keeper then has the plug open and close them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import ChannelAdapter
from chatgate.services.channels import CHANNEL_STATUS_EVENT, CONNECTION_CHANGES, ChannelService
from chatgate.services.held_connections import Survey
from chatgate.storage import channels as channel_store
from chatgate.storage.events import LoggedEvent

log = structlog.get_logger(__name__)


class ConnectionPlug(Protocol):
    """A platform's connections kept open in this process (see ``HeldKind`` for when each
    call is made)."""

    # The channel type whose connections the plug keeps open.
    channel_type: str

    def config_of(self, adapter: ChannelAdapter[Any]) -> object | None:
        """What the connection is opened with, or ``None`` when it needs no holding."""
        ...

    def open_ids(self) -> set[str]:
        """The connections open in this process."""
        ...

    async def open(self, connection_id: str, config: object) -> None:
        """Open (or keep open) the connection with ``config``, its current settings."""
        ...

    async def close(self, connection_id: str, config: object | None) -> None:
        """This worker does not hold the connection; ``config`` is its current settings
        (``None``: it needs no holding now)."""
        ...

    async def remove(self, connection_id: str) -> None:
        """The connection was removed: close it for good."""
        ...

    async def shutdown(self) -> None:
        """Close every connection open in this process."""
        ...


class ChannelHolding:
    """The held kind of the channel connections a :class:`ConnectionPlug` keeps open."""

    event_types = frozenset({CHANNEL_STATUS_EVENT})

    def __init__(self, channels: ChannelService, plug: ConnectionPlug) -> None:
        self.channels = channels
        self.plug = plug
        self._configs: dict[str, object] = {}
        # Versions of connections whose adapter could not be built (said once each).
        self._skipped: set[tuple[str, datetime | None]] = set()

    def wakes(self, event: LoggedEvent) -> bool:
        """A connection of the plug's type made, given new credentials or removed."""
        detail = event.detail or {}
        return (
            detail.get("type") == self.plug.channel_type
            and detail.get("status") in CONNECTION_CHANGES
        )

    async def survey(self, conn: AsyncConnection, known: set[str]) -> Survey:
        """The stored connections whose adapter wants holding, and those of ``known`` gone."""
        stored = await channel_store.of_type(conn, self.plug.channel_type)
        configs: dict[str, object] = {}
        for connection in stored:
            try:
                adapter = self.channels.adapter(connection)
            except Exception:  # undecryptable or no longer valid: leave it to the sends
                version = (connection.id, connection.updated_at)
                if version not in self._skipped:
                    self._skipped.add(version)
                    log.warning(
                        "holds.connection_skipped",
                        connection_id=connection.id,
                        type=self.plug.channel_type,
                    )
                continue
            config = self.plug.config_of(adapter)
            if config is not None:
                configs[connection.id] = config
        self._configs = configs
        return Survey(wanted=set(configs), removed=known - {connection.id for connection in stored})

    def open_ids(self) -> set[str]:
        """The plug's connections open in this process."""
        return self.plug.open_ids()

    async def open(self, connection_id: str) -> None:
        """Open the connection with the settings the last survey read."""
        await self.plug.open(connection_id, self._configs[connection_id])

    async def close(self, connection_id: str) -> None:
        """Let the plug close what holding the connection opened."""
        await self.plug.close(connection_id, self._configs.get(connection_id))

    async def remove(self, connection_id: str) -> None:
        """Close the removed connection for good."""
        self._configs.pop(connection_id, None)
        await self.plug.remove(connection_id)

    async def shutdown(self) -> None:
        """Close every connection of the plug in this process."""
        await self.plug.shutdown()
