"""Accepting messages to send: checks, then message + event + jobs in one transaction.

Everything a send can be refused for is checked here, before anything is written: the
key's channels, a configured channel for live keys, the channel's rules (who may start a
conversation, the service window), the schedule, and each fallback step the same way as
the message itself. The caller commits; only then does the API answer and the worker get
woken.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import ChannelAdapter, OutboundMessage, UnsupportedContent
from chatgate.channels.sandbox import InvalidSandboxOptions, SandboxAdapter
from chatgate.domain.channels import (
    CHANNEL_RULES,
    RETIRED_MESSAGE_TAGS,
    ChannelRules,
    ChannelType,
)
from chatgate.domain.degrade import CannotDegrade, render_down
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import DEGRADED, ApiKey, Message
from chatgate.domain.status import Status
from chatgate.errors import ChatgateError, Conflict, Forbidden, InvalidRequest
from chatgate.services.auto_route import route_to_contact
from chatgate.services.billing import Billing, Charges
from chatgate.services.channels import ChannelService
from chatgate.services.fallback import check_jobs
from chatgate.services.job_kinds import send_job_row
from chatgate.services.links import track_links
from chatgate.services.send_command import SendCommand
from chatgate.services.session_send import session_connection
from chatgate.services.templates import with_stored_templates
from chatgate.storage import channels as channel_store
from chatgate.storage import conversations as conversation_store
from chatgate.storage import jobs as job_store
from chatgate.storage import links as link_store
from chatgate.storage import messages as message_store
from chatgate.storage.channels import StoredConnection

MAX_SCHEDULE_AHEAD = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class _Target:
    """Where one send goes: the message itself, or a fallback step (``field`` says which)."""

    channel: ChannelType
    to: str
    content: dict[str, Any]
    field: str = ""
    # The request's per-platform options (the first message only).
    options: dict[str, Any] | None = None

    @property
    def tag(self) -> str | None:
        """The message tag the request names, if any."""
        tag: str | None = (self.options or {}).get("tag")
        return tag

    def name(self, field: str) -> str:
        return f"{self.field}.{field}" if self.field else field


def _check_tag(rules: ChannelRules, target: _Target) -> None:
    tag = target.tag
    if tag is None:
        return
    if not rules.tag_windows:
        raise InvalidRequest(
            f"{target.channel.value} takes no message tags", code="invalid_tag", field="options.tag"
        )
    if tag in RETIRED_MESSAGE_TAGS:
        raise InvalidRequest(RETIRED_MESSAGE_TAGS[tag], code="invalid_tag", field="options.tag")
    if tag not in rules.tag_windows:
        allowed = ", ".join(sorted(rules.tag_windows))
        raise InvalidRequest(
            f"{target.channel.value} takes the tags {allowed}",
            code="invalid_tag",
            field="options.tag",
        )


def _window_refusal(rules: ChannelRules, target: _Target, window: int) -> Conflict:
    if rules.templates_outside_window:
        allowed = "only templates are allowed"
    elif target.tag is not None:
        allowed = f"and the {target.tag} tag allows {rules.tag_windows[target.tag]} hours"
    elif rules.tag_windows:
        allowed = "nothing can be sent without a message tag (options.tag: " + ", ".join(
            f"{tag} for {hours} hours" for tag, hours in sorted(rules.tag_windows.items())
        )
        allowed += ")"
    else:
        allowed = "nothing can be sent"
    return Conflict(
        f"the recipient has not written in the last {window} hours: outside the "
        f"{target.channel.value} service window {allowed}",
        code="outside_service_window",
        field=target.name("content" if rules.templates_outside_window else "to"),
    )


async def _check_cap(
    conn: AsyncConnection,
    key: ApiKey,
    target: _Target,
    rules: ChannelRules,
    last_inbound: datetime,
    accepted: Counter[tuple[str, str]],
) -> None:
    """Refuse a message past the channel's cap of business messages per user message
    (those accepted earlier in this request count too: they are not stored yet)."""
    cap = rules.messages_per_inbound
    if cap is None or target.field:  # a fallback step is checked when it is sent
        return
    channel = target.channel.value
    sent = await message_store.count_outbound_since(
        conn, key.account_id, key.mode.value, channel, target.to, last_inbound
    )
    if sent + accepted[(channel, target.to)] >= cap:
        raise Conflict(
            f"{channel} allows {cap} messages per message of the user: wait for the "
            "recipient to write again",
            code="message_cap_reached",
            field=target.name("to"),
        )


async def _check_rules(
    conn: AsyncConnection,
    key: ApiKey,
    target: _Target,
    now: datetime,
    accepted: Counter[tuple[str, str]],
) -> None:
    rules = CHANNEL_RULES[target.channel]
    _check_tag(rules, target)
    channel = target.channel.value
    if target.content["type"] != "template" and not rules.allows_free_form(channel, target.options):
        kinds = " or ".join(f'"{kind}"' for kind in sorted(rules.free_form_types))
        raise InvalidRequest(
            f"{channel} sends templates only: other content needs options.{channel}.type {kinds}",
            code="template_required",
            field=target.name("content"),
        )
    if rules.can_initiate and rules.service_window_hours is None:
        return
    last_inbound = await conversation_store.last_inbound_at(
        conn, key.account_id, key.mode.value, target.channel.value, target.to
    )
    if not rules.can_initiate and last_inbound is None:
        raise Conflict(
            f"{target.channel.value} does not let a business start a conversation: "
            "the recipient must write first",
            code="channel_cannot_initiate",
            field=target.name("to"),
        )
    window = rules.service_window_hours
    if window is None:
        return
    since = None if last_inbound is None else now - last_inbound
    if last_inbound is not None and since is not None and since <= timedelta(hours=window):
        await _check_cap(conn, key, target, rules, last_inbound, accepted)
        return
    if rules.templates_outside_window and target.content["type"] == "template":
        return
    if (
        target.tag is not None
        and since is not None
        and since <= timedelta(hours=rules.tag_windows[target.tag])
    ):
        return
    raise _window_refusal(rules, target, window)


async def _configured(
    conn: AsyncConnection, key: ApiKey, target: _Target, sender: str | None
) -> StoredConnection:
    found = await channel_store.find_connection(conn, key.account_id, target.channel.value, sender)
    if found is not None:
        return found
    if sender is not None:
        raise InvalidRequest(
            f"no {target.channel.value} channel of this account has the id or name {sender!r}",
            code="channel_not_configured",
            field=target.name("from"),
        )
    raise InvalidRequest(
        f"no {target.channel.value} channel is configured for this account; add one, "
        "or use a test key to send through the sandbox",
        code="channel_not_configured",
        field=target.name("channel"),
    )


def _unsupported(adapter: ChannelAdapter[Any], message: Message) -> UnsupportedContent | None:
    """What the platform cannot carry of ``message``, as its adapter would build it."""
    try:
        adapter.build_request(OutboundMessage.of(message))
    except UnsupportedContent as exc:
        return exc
    return None


def _render_down(
    adapter: ChannelAdapter[Any], message: Message, field: str, lacking: frozenset[str]
) -> Message:
    """``message`` rendered down to what ``adapter``'s platform carries (less ``lacking``,
    features it refused for this very content), and recorded so."""
    try:
        rendered = render_down(
            message.content,
            adapter.capabilities - lacking,
            reply_to=message.reply_to is not None,
        )
    except CannotDegrade as exc:
        raise InvalidRequest(
            f"{adapter.name} cannot carry {exc.feature}, even rendered down: {exc.reason}",
            code="unsupported_content",
            field=field,
            details={"channel": adapter.name, "feature": exc.feature, "degradable": False},
        ) from None
    if not rendered.features:
        return message
    record: dict[str, Any] = {"features": list(rendered.features), "original": message.content}
    if not rendered.keeps_reply_to:
        record["reply_to"] = message.reply_to
    return replace(
        message,
        content=rendered.content,
        reply_to=message.reply_to if rendered.keeps_reply_to else None,
        options={**(message.options or {}), DEGRADED: record},
    )


def _fitted(
    adapter: ChannelAdapter[Any],
    message: Message,
    field: str,
    *,
    degrade: bool,
    as_built: Callable[[Message], Message] = lambda message: message,
) -> Message:
    """Refuse at accept what the platform cannot carry, rather than fail it later; with
    ``degrade``, ``message`` rendered down to what it carries.

    A platform may refuse a feature it has for this content only (a file type it does not
    take, say): rendered down again without that feature, the message goes as a link.
    """
    lacking: frozenset[str] = frozenset()
    while True:
        fitted = _render_down(adapter, message, field, lacking) if degrade else message
        refused = _unsupported(adapter, as_built(fitted))
        if refused is None:
            return fitted
        if degrade and refused.feature not in lacking:
            lacking |= {refused.feature}
            continue
        hint = (
            "even rendered down"
            if degrade
            else 'send with "degrade": true to render it down to what the channel carries'
        )
        raise InvalidRequest(
            f"{refused.channel} cannot carry {refused.feature}; {hint}",
            code="unsupported_content",
            field=field,
            details={"channel": refused.channel, "feature": refused.feature},
        )


def _fit_live(
    message: Message,
    connections: Sequence[StoredConnection | None],
    channels: ChannelService,
    *,
    degrade: bool,
) -> Message:
    """Check (and with ``degrade``, render down) the message and each fallback step."""
    steps = list(message.fallback)
    for index, connection in enumerate(connections):
        if connection is None:  # only live keys get here, and they always have one
            continue
        adapter = channels.adapter(connection)
        if index == 0:
            message = _fitted(adapter, message, "content", degrade=degrade)
            continue
        step = message.fallback[index - 1]
        field = f"fallback.{index - 1}.content"
        # A step is checked as the message it will become: its own channel and recipient.
        as_sent = replace(
            message, channel=step.channel, recipient=step.to, content=step.content, reply_to=None
        )
        as_sent = _fitted(
            adapter,
            as_sent,
            field,
            degrade=degrade,
            as_built=lambda fitted: replace(fitted, options=None),
        )
        if degrade:
            step = replace(step, content=as_sent.content, degraded=as_sent.degraded)
        steps[index - 1] = step
    return replace(message, fallback=tuple(steps))


def _check_sandbox(sandbox: SandboxAdapter, message: Message) -> None:
    try:
        sandbox.build_request(OutboundMessage.of(message))
    except InvalidSandboxOptions as exc:
        field, _, text = str(exc).partition(": ")
        raise InvalidRequest(text, field=field) from exc


async def _check_target(
    conn: AsyncConnection,
    key: ApiKey,
    target: _Target,
    now: datetime,
    sender: str | None,
    accepted: Counter[tuple[str, str]],
) -> StoredConnection | None:
    """Check one target; the live connection that will carry it, if any."""
    if not key.allows_channel(target.channel.value):
        raise Forbidden(
            f"this key may not send on {target.channel.value}",
            code="channel_not_allowed",
            field=target.name("channel"),
        )
    connection = None
    if key.mode is KeyMode.LIVE and target.channel is ChannelType.WHATSAPP_WEB:
        # A linked device: the session named (or the only working one), if it can send.
        connection = await session_connection(
            conn, key.account_id, sender, target.to, now, accepted, field=target.field
        )
    elif key.mode is KeyMode.LIVE:
        connection = await _configured(conn, key, target, sender)
    await _check_rules(conn, key, target, now, accepted)
    return connection


def _check_schedule(schedule_at: datetime | None, now: datetime) -> None:
    if schedule_at is not None and schedule_at - now > MAX_SCHEDULE_AHEAD:
        # Measured from now, which no schema can: a code of its own.
        raise InvalidRequest(
            "must be at most 90 days ahead", field="schedule_at", code="schedule_too_far"
        )


def _new_message(
    key: ApiKey, command: SendCommand, now: datetime, connection_id: str | None = None
) -> Message:
    scheduled = command.schedule_at is not None and command.schedule_at > now
    message_id = new_id("msg", now_ms=int(now.timestamp() * 1000))
    chained = bool(command.fallback)
    return Message.new(
        message_id=message_id,
        account_id=key.account_id,
        mode=key.mode,
        direction="outbound",
        channel=command.routed_channel.value,
        sender=command.sender,
        recipient=command.to,
        content=command.content,
        status=Status.SCHEDULED if scheduled else Status.QUEUED,
        at=now,
        metadata=command.metadata,
        reply_to=command.reply_to,
        schedule_at=command.schedule_at if scheduled else None,
        fallback=command.fallback,
        chain_id=message_id if chained else None,
        chain_step=0 if chained else None,
        connection_id=connection_id,
        options=command.options,
        contact_id=command.contact_id,
        distribution_id=command.distribution_id,
    )


async def accept_messages(
    conn: AsyncConnection,
    key: ApiKey,
    commands: Sequence[SendCommand],
    *,
    sandbox: SandboxAdapter,
    channels: ChannelService,
    billing: Billing,
    now: datetime,
) -> list[Message | ChatgateError]:
    """Check and write each message; one result per command, in order.

    Refused commands write nothing; the accepted ones are written in the caller's
    transaction with their first event, their send job, any fallback check and, with
    ``track_links``, their tracked links (under ``channels.public_url``, the gateway's base
    as the world reaches it). A live message is counted against the plan's daily quota and
    its price reserved (``billing``) once everything else has passed.
    """
    results: list[Message | ChatgateError] = []
    message_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    job_rows: list[dict[str, Any]] = []
    link_rows: list[dict[str, Any]] = []
    charges = Charges()
    # Messages accepted so far per (channel, recipient): not visible to queries until stored.
    accepted: Counter[tuple[str, str]] = Counter()
    for command in commands:
        try:
            # First the channel (a contact's), then the content a stored template renders
            # to for it: every later check sees the message as it will be sent.
            if command.contact_id is not None:
                terms = await billing.terms(conn, key, charges)
                command = await route_to_contact(conn, key, command, terms.prices, now)
            command = await with_stored_templates(conn, key.account_id, command)
            message = _new_message(key, command, now)
            targets = [
                _Target(
                    command.routed_channel, command.to, command.content, options=command.options
                ),
                *(
                    _Target(ChannelType(step.channel), step.to, step.content, f"fallback.{index}")
                    for index, step in enumerate(command.fallback)
                ),
            ]
            _check_schedule(command.schedule_at, now)
            connections = [
                await _check_target(
                    conn, key, target, now, command.sender if not i else None, accepted
                )
                for i, target in enumerate(targets)
            ]
            if key.mode is KeyMode.TEST:
                _check_sandbox(sandbox, message)
            elif connections[0] is not None:
                message = replace(message, connection_id=connections[0].id)
                message = _fit_live(message, connections, channels, degrade=command.degrade)
            if command.track_links:
                # The links are rewritten in the content as it will be sent.
                message, links = track_links(message, channels.public_url)
            # Last: only a message accepted on every other count uses quota and credit.
            message = await billing.charge(conn, key, message, charges)
            if command.track_links:
                link_rows.extend(link_store.link_row(link, now) for link in links)
        except ChatgateError as error:
            results.append(error)
            continue
        results.append(message)
        accepted[(message.channel, message.recipient)] += 1
        message_rows.append(message_store.message_row(message, key.id))
        event_rows.append(message_store.first_event_row(message))
        job_rows.append(send_job_row(message))
        job_rows.extend(check_jobs(message))
    # Staged: with group commit, every request's rows go in together at the commit.
    message_store.stage_new_messages(conn, message_rows, event_rows)
    link_store.stage_links(conn, link_rows)
    await job_store.stage_jobs(conn, job_rows)
    return results
