"""Messages that users send to an account: stored, and the conversation window opened."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import InboundEvent, InboundMessage, StatusUpdate
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import SENDER_PROFILE, Message
from chatgate.domain.status import Status
from chatgate.services.acknowledge import acknowledge_job
from chatgate.services.contacts import link_inbound
from chatgate.services.media import plan_media, record_pending
from chatgate.services.status_match import UNMATCHED, apply_update, log_raw, match_later
from chatgate.services.user_links import link_identities, thread_peer, user_addresses
from chatgate.storage import channels as channel_store
from chatgate.storage import conversations as conversation_store
from chatgate.storage import jobs as job_store
from chatgate.storage import messages as message_store
from chatgate.storage.channels import StoredConnection

log = structlog.get_logger(__name__)

# The inbound log's kind for a webhook refused for its signature.
SIGNATURE_REFUSED = "signature_refused"


async def record_inbound(
    conn: AsyncConnection,
    *,
    account_id: str,
    mode: KeyMode,
    channel: str,
    sender: str,
    recipient: str,
    content: dict[str, Any],
    provider_message_id: str | None,
    at: datetime,
    connection_id: str | None = None,
    reply_to: str | None = None,
    sender_name: str | None = None,
    sender_profile: Mapping[str, str] | None = None,
) -> Message:
    """Store a received message and note that ``sender`` wrote, in the caller's transaction.

    The message names the sender's contact, made on its first message (``sender_name``: the
    name on the platform's profile, where the event has one). ``sender_profile`` holds the
    sender's user ids and username where the platform has them: kept on the message, given
    to the contact as identities, and linking the user's addresses to one thread.
    """
    profile = dict(sender_profile or {})
    addresses = user_addresses(sender, profile)
    contact_id = await link_inbound(
        conn, account_id, mode, channel, sender, name=sender_name, at=at, aliases=addresses[1:]
    )
    if len(addresses) > 1 or profile.get("username"):
        await link_identities(
            conn, account_id, mode, contact_id, channel, addresses, profile.get("username"), at
        )
    peer = await thread_peer(conn, account_id, mode, channel, addresses, at)
    message = Message.new(
        account_id=account_id,
        mode=mode,
        direction="inbound",
        channel=channel,
        sender=sender,
        recipient=recipient,
        content=content,
        status=Status.RECEIVED,
        at=at,
        provider_message_id=provider_message_id,
        connection_id=connection_id,
        reply_to=reply_to,
        contact_id=contact_id,
    )
    if profile:
        message = replace(message, options={SENDER_PROFILE: profile})
    await message_store.insert_messages(conn, [message_store.message_row(message, None)])
    await message_store.insert_event_rows(conn, [message_store.first_event_row(message)])
    await conversation_store.record_inbound(
        conn,
        account_id,
        mode.value,
        channel,
        peer,
        at,
        message_id=message.id,
        connection_id=connection_id,
        contact_id=contact_id,
    )
    return message


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What one platform webhook became."""

    received: int = 0
    duplicates: int = 0
    statuses: int = 0
    unmatched: int = 0
    unknown: int = 0
    # Files now waiting for their download job.
    media: int = 0
    # Answers the platform expects (Telegram's callback queries), queued for the worker.
    acks: int = 0


async def record_webhook(
    conn: AsyncConnection,
    connection: StoredConnection,
    events: list[InboundEvent],
    now: datetime,
    *,
    public_url: str | None = None,
) -> WebhookResult:
    """Store what a verified webhook carried, in one transaction.

    Messages are deduplicated on the platform's id (platforms redeliver on any doubt);
    statuses only move messages forward; what is not understood is kept in the inbound log.
    A message with a file gets the file's URL on the gateway (under ``public_url``) and a
    job that downloads it later: the webhook is not held up by the download.
    """
    received = duplicates = statuses = unmatched = unknown = files = acks = 0
    for event in events:
        if isinstance(event, InboundMessage):
            earlier = await message_store.find_by_provider_id(
                conn, connection.account_id, connection.type, event.provider_message_id, "inbound"
            )
            if earlier is not None:
                duplicates += 1
                continue
            media = plan_media(event.content, public_url)
            message = await record_inbound(
                conn,
                account_id=connection.account_id,
                mode=KeyMode.LIVE,
                channel=connection.type,
                sender=event.sender,
                recipient=event.recipient,
                content=media.content if media else dict(event.content),
                provider_message_id=event.provider_message_id,
                at=event.at,
                connection_id=connection.id,
                reply_to=event.reply_to,
                sender_name=event.sender_name,
                sender_profile=event.sender_profile(),
            )
            if media is not None:
                await record_pending(conn, media, message, now)
                files += 1
            if event.ack_token is not None:
                await job_store.enqueue(conn, [acknowledge_job(connection, event.ack_token, now)])
                acks += 1
            received += 1
        elif isinstance(event, StatusUpdate):
            await _link_recipient(conn, connection, event, now)
            if await apply_update(conn, connection, event):
                statuses += 1
            elif event.provider_message_id is not None:
                # Perhaps our send's outcome is not committed yet: try again shortly.
                unmatched += 1
                await job_store.enqueue(conn, [match_later(connection, event, now)])
            else:
                unmatched += 1
                await log_raw(conn, connection, UNMATCHED, event.raw, now)
        else:
            # Kept whole in the inbound log, and told: a signed event is never dropped unseen.
            unknown += 1
            await log_raw(conn, connection, event.kind, event.raw, now)
            log.info(
                "inbound.unknown_event",
                channel_id=connection.id,
                channel=connection.type,
                kind=event.kind,
            )
    return WebhookResult(received, duplicates, statuses, unmatched, unknown, files, acks)


async def _link_recipient(
    conn: AsyncConnection, connection: StoredConnection, update: StatusUpdate, now: datetime
) -> None:
    """A status naming its user by two addresses (a message sent to a phone, reported with
    the user's business-scoped id) links them: the user's later messages without a phone
    land on the same thread."""
    phone, user_id = update.recipient, update.recipient_user_id
    if phone is None or user_id is None or phone == user_id:
        return
    await thread_peer(
        conn, connection.account_id, KeyMode.LIVE, connection.type, [phone, user_id], now
    )


async def log_refusal(
    conn: AsyncConnection, connection: StoredConnection, reason: str, now: datetime
) -> None:
    """Keep a webhook refused for its signature (the body is not kept: it is untrusted)."""
    await channel_store.log_inbound(
        conn,
        entry_id=new_id("inb"),
        connection_id=connection.id,
        kind=SIGNATURE_REFUSED,
        detail={"reason": reason},
        at=now,
    )
