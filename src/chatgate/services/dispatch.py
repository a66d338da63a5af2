"""Which adapter carries a message, and which sender's pace it keeps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chatgate.channels.base import ChannelAdapter
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import KeyMode
from chatgate.domain.pacing import DEFAULT_PACE, Pace
from chatgate.domain.records import Message
from chatgate.services.channels import ChannelService
from chatgate.services.delivery import AdapterResolver, PaceResolver
from chatgate.storage import channels as channel_store
from chatgate.storage.database import Database


class ConnectionAdapters:
    """The adapter of each channel connection, rebuilt only when the connection changes."""

    def __init__(self, database: Database, channels: ChannelService) -> None:
        self.database = database
        self.channels = channels
        self._built: dict[str, tuple[datetime | None, ChannelAdapter[Any]]] = {}

    async def default_for(self, account_id: str, channel_type: str) -> str | None:
        """The id of the account's default connection of ``channel_type``, if any."""
        async with self.database.read() as conn:
            found = await channel_store.find_connection(conn, account_id, channel_type, None)
        return None if found is None else found.id

    async def for_connection(self, connection_id: str) -> ChannelAdapter[Any] | None:
        """The adapter serving ``connection_id``, or ``None`` if it was removed."""
        async with self.database.read() as conn:
            stored = await channel_store.get_connection(conn, connection_id)
        if stored is None:
            self._built.pop(connection_id, None)
            return None
        cached = self._built.get(connection_id)
        if cached is not None and cached[0] == stored.updated_at:
            return cached[1]
        adapter = self.channels.adapter(stored)
        self._built[connection_id] = (stored.updated_at, adapter)
        return adapter


def adapter_resolver(
    sandbox: ChannelAdapter[Any], connections: ConnectionAdapters
) -> AdapterResolver:
    """Test-mode messages go to the sandbox; live ones to their connection's adapter."""

    async def resolve(message: Message) -> ChannelAdapter[Any] | None:
        if message.mode is KeyMode.TEST:
            return sandbox
        connection_id = message.connection_id
        if connection_id is None:
            # A fallback step names a channel, not a connection: the account's default.
            connection_id = await connections.default_for(message.account_id, message.channel)
        return None if connection_id is None else await connections.for_connection(connection_id)

    return resolve


def sender_key(message: Message) -> str:
    """The sender a message is paced as: one account's sender on one channel."""
    return f"{message.account_id}:{message.mode.value}:{message.channel}:{message.sender or '-'}"


def pace_resolver(*, pace_sandbox: bool) -> PaceResolver:
    """Each channel's documented pace; sandbox messages keep it too unless told not to."""

    def resolve(message: Message) -> tuple[str, Pace] | None:
        if message.mode is KeyMode.TEST and not pace_sandbox:
            return None
        return sender_key(message), DEFAULT_PACE[ChannelType(message.channel)]

    return resolve
