"""Accepting messages to send: checks, then message + event + job in one transaction.

Everything a send can be refused for is checked here, before anything is written: the
key's channels, a configured channel for live keys, the channel's rules (who may start a
conversation, the service window) and what the adapter can express. The caller commits;
only then does the API answer and the worker get woken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import OutboundMessage
from chatgate.channels.sandbox import InvalidSandboxOptions, SandboxAdapter
from chatgate.domain.channels import CHANNEL_RULES, ChannelType
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import ApiKey, Message
from chatgate.domain.status import Status
from chatgate.errors import ChatgateError, Conflict, Forbidden, InvalidRequest
from chatgate.services.delivery import SEND_JOB
from chatgate.storage import conversations as conversation_store
from chatgate.storage import jobs as job_store
from chatgate.storage import messages as message_store
from chatgate.storage.tables import channel_connections


@dataclass(frozen=True, slots=True)
class SendCommand:
    """One message to accept, already validated field by field."""

    channel: ChannelType
    to: str
    content: dict[str, Any]
    sender: str | None = None
    metadata: dict[str, Any] | None = None
    reply_to: str | None = None


async def _check_rules(
    conn: AsyncConnection, key: ApiKey, command: SendCommand, now: datetime
) -> None:
    rules = CHANNEL_RULES[command.channel]
    if rules.can_initiate and rules.service_window_hours is None:
        return
    last_inbound = await conversation_store.last_inbound_at(
        conn, key.account_id, key.mode.value, command.channel.value, command.to
    )
    if not rules.can_initiate and last_inbound is None:
        raise Conflict(
            f"{command.channel.value} does not let a business start a conversation: "
            "the recipient must write first",
            code="channel_cannot_initiate",
            field="to",
        )
    window = rules.service_window_hours
    if window is None:
        return
    inside = last_inbound is not None and now - last_inbound <= timedelta(hours=window)
    if inside or (rules.templates_outside_window and command.content["type"] == "template"):
        return
    allowed = (
        "only templates are allowed" if rules.templates_outside_window else "nothing can be sent"
    )
    raise Conflict(
        f"the recipient has not written in the last {window} hours: outside the "
        f"{command.channel.value} service window {allowed}",
        code="outside_service_window",
        field="content" if rules.templates_outside_window else "to",
    )


async def _check_configured(conn: AsyncConnection, key: ApiKey, command: SendCommand) -> None:
    found = await conn.scalar(
        select(channel_connections.c.id)
        .where(
            channel_connections.c.account_id == key.account_id,
            channel_connections.c.type == command.channel.value,
        )
        .limit(1)
    )
    if found is None:
        raise InvalidRequest(
            f"no {command.channel.value} channel is configured for this account; add one, "
            "or use a test key to send through the sandbox",
            code="channel_not_configured",
            field="channel",
        )


def _check_sandbox(sandbox: SandboxAdapter, message: Message) -> None:
    try:
        sandbox.build_request(OutboundMessage.of(message))
    except InvalidSandboxOptions as exc:
        field, _, text = str(exc).partition(": ")
        raise InvalidRequest(text, field=field) from exc


async def accept_messages(
    conn: AsyncConnection,
    key: ApiKey,
    commands: Sequence[SendCommand],
    *,
    sandbox: SandboxAdapter,
    now: datetime,
) -> list[Message | ChatgateError]:
    """Check and write each message; one result per command, in order.

    Refused commands write nothing; the accepted ones are written in the caller's
    transaction with their first event and their send job.
    """
    results: list[Message | ChatgateError] = []
    message_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    job_rows: list[dict[str, Any]] = []
    for command in commands:
        message = Message.new(
            account_id=key.account_id,
            mode=key.mode,
            direction="outbound",
            channel=command.channel.value,
            sender=command.sender,
            recipient=command.to,
            content=command.content,
            status=Status.QUEUED,
            at=now,
            metadata=command.metadata,
            reply_to=command.reply_to,
        )
        try:
            if not key.allows_channel(command.channel.value):
                raise Forbidden(
                    f"this key may not send on {command.channel.value}",
                    code="channel_not_allowed",
                    field="channel",
                )
            if key.mode is KeyMode.LIVE:
                await _check_configured(conn, key, command)
            else:
                _check_sandbox(sandbox, message)
            await _check_rules(conn, key, command, now)
        except ChatgateError as error:
            results.append(error)
            continue
        results.append(message)
        message_rows.append(message_store.message_row(message, key.id))
        event_rows.append(message_store.first_event_row(message))
        job_rows.append(job_store.job_row(SEND_JOB, now, message_id=message.id))
    await message_store.insert_messages(conn, message_rows)
    await message_store.insert_event_rows(conn, event_rows)
    await job_store.enqueue(conn, job_rows)
    return results
