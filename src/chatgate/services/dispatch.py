"""Which adapter carries a message, and which sender's pace it keeps."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from chatgate.channels.base import ChannelAdapter
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import KeyMode
from chatgate.domain.pacing import Pace, pace_of
from chatgate.domain.records import Message
from chatgate.services.channels import ChannelService
from chatgate.services.delivery import AdapterResolver, PaceResolver
from chatgate.storage import channels as channel_store
from chatgate.storage.database import Database
from chatgate.storage.types import utcnow


class ConnectionAdapters:
    """The adapter of each live message's channel connection, as it is now."""

    def __init__(self, database: Database, channels: ChannelService) -> None:
        self.database = database
        self.channels = channels

    async def for_message(self, message: Message) -> ChannelAdapter[Any] | None:
        """The adapter of the message's connection; ``None`` if it was removed.

        A fallback step names a channel, not a connection: it goes through the account's
        default connection of that channel.
        """
        async with self.database.read() as conn:
            if message.connection_id is not None:
                stored = await channel_store.get_connection(conn, message.connection_id)
            else:
                stored = await channel_store.find_connection(
                    conn, message.account_id, message.channel, None
                )
        if stored is None:
            return None
        adapter = self.channels.adapter(stored)
        connection_id = stored.id

        async def keep(credentials: BaseModel) -> None:
            # An adapter that refreshed its token stores the new one for every process.
            async with self.database.write() as conn:
                await self.channels.store_rotated_credentials(
                    conn, connection_id, credentials, utcnow()
                )

        adapter.credentials_listener = keep
        return adapter


def adapter_resolver(
    sandbox: ChannelAdapter[Any], connections: ConnectionAdapters
) -> AdapterResolver:
    """Test-mode messages go to the sandbox; live ones to their connection's adapter."""

    async def resolve(message: Message) -> ChannelAdapter[Any] | None:
        if message.mode is KeyMode.TEST:
            return sandbox
        return await connections.for_message(message)

    return resolve


def sender_key(message: Message, adapter: ChannelAdapter[Any]) -> str:
    """The sender a message is paced as: one connection (or sender) of one account."""
    sender = adapter.connection_id or message.sender or "-"
    return f"{message.account_id}:{message.mode.value}:{message.channel}:{sender}"


def pace_resolver(*, pace_sandbox: bool) -> PaceResolver:
    """Each connection's pace: its own settings, else the channel's documented rates.

    Sandbox messages keep the channel's rates too, unless told not to.
    """

    def resolve(message: Message, adapter: ChannelAdapter[Any]) -> tuple[str, Pace] | None:
        if message.mode is KeyMode.TEST and not pace_sandbox:
            return None
        channel = ChannelType(message.channel)
        settings = adapter.settings
        pace = pace_of(
            channel,
            per_second=settings.rate_per_second,
            per_recipient_seconds=settings.per_recipient_seconds,
        )
        return sender_key(message, adapter), pace

    return resolve
