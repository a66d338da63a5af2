"""``?action=status``: a key as Thikaa's "instance", with its channels and the balance."""

from __future__ import annotations

from chatgate.api.state import Gateway
from chatgate.compat.thikaa.answers import Balance, ChannelState, StatusAnswer, instance_id
from chatgate.compat.thikaa.channels import CHANNEL_TYPES
from chatgate.domain.billing import MICRO
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import ApiKey
from chatgate.errors import NotFound
from chatgate.storage import accounts as account_store
from chatgate.storage import channels as channel_store
from chatgate.storage import sessions as session_store


async def instance_status(gateway: Gateway, key: ApiKey) -> StatusAnswer:
    """The key's instance: the Thikaa channels it may use (each connected or not) and the
    account's balance in its currency."""
    async with gateway.database.read() as conn:
        account = await account_store.get_account(conn, key.account_id)
        connections = await channel_store.list_connections(conn, key.account_id)
        sessions = await session_store.list_sessions(conn, key.account_id)
    if account is None:
        raise NotFound("no such account")
    # A connection is working once it holds credentials; a channel type with none is not
    # connected. WhatsApp Direct is connected while a linked-device session is working.
    working = {connection.type for connection in connections if connection.credentials}
    if any(session.state == "working" for session in sessions):
        working.add(ChannelType.WHATSAPP_WEB.value)
    channels = [
        ChannelState(channel=code, connected=True, status="sandbox")
        if key.mode is KeyMode.TEST
        else ChannelState(
            channel=code,
            connected=channel_type.value in working,
            status="connected" if channel_type.value in working else "not_connected",
        )
        for code, channel_type in CHANNEL_TYPES.items()
        if key.allows_channel(channel_type.value)
    ]
    terms = gateway.billing.terms_of(account)
    return StatusAnswer(
        instance_id=instance_id(key.id),
        mode=key.mode,
        channels=channels,
        balance=Balance(amount=account.balance / MICRO, currency=terms.currency),
    )
