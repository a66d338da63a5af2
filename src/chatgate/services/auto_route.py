"""Sends addressed to a contact: ``"to": {"contact_id": "ct_…"}``.

With a named channel the message goes to the contact's identity on it. With
``"channel": "auto"`` the channel is chosen (``domain/routing``) among those the contact is
reachable on, the key may use, the account has connected (live keys) and whose rules let
the message go now (an open conversation, or a channel the business may write first on).
The choice and its reason are kept in the message's options under ``route``. Fallback
steps without a ``to`` of their own go to the contact's identity on their channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.billing import price_of
from chatgate.domain.channels import CHANNEL_RULES, ChannelType
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import ROUTE, ApiKey
from chatgate.domain.routing import NoRoute, choose_channel
from chatgate.errors import InvalidRequest, NotFound
from chatgate.services import contacts as contact_service
from chatgate.services.send_command import SendCommand
from chatgate.storage import channels as channel_store
from chatgate.storage.contacts import Pair

CONTACT_FIELD = "to.contact_id"


async def _usable(conn: AsyncConnection, key: ApiKey, pairs: Sequence[Pair]) -> list[Pair]:
    """The pairs on channels the key may use and (live keys) the account has connected."""
    allowed = [pair for pair in pairs if key.allows_channel(pair[0])]
    if key.mode is KeyMode.TEST:
        return allowed  # the sandbox carries every channel
    connected = {c.type for c in await channel_store.list_connections(conn, key.account_id)}
    return [pair for pair in allowed if pair[0] in connected]


def _rules_allow(
    channel: str, conversation_open: bool, kind: str, options: Mapping[str, object] | None
) -> bool:
    """Whether the channel's rules let the business send a ``kind`` message now (with the
    request's ``options``)."""
    rules = CHANNEL_RULES[ChannelType(channel)]
    if kind != "template" and not rules.allows_free_form(channel, options):
        return False
    if conversation_open:
        return True
    if not rules.can_initiate:
        return False
    if rules.service_window_hours is None:
        return True
    return rules.templates_outside_window and kind == "template"


def _identity_on(pairs: Sequence[Pair], channel: str, field: str) -> str:
    for pair_channel, identity in pairs:
        if pair_channel == channel:
            return identity
    raise InvalidRequest(
        f"the contact has no {channel} identity (nor a phone number {channel} can use)",
        code="no_route",
        field=field,
    )


async def route_to_contact(
    conn: AsyncConnection,
    key: ApiKey,
    command: SendCommand,
    prices: Mapping[str, int],
    now: datetime,
) -> SendCommand:
    """``command`` with its channel and recipient (and its steps') taken from its contact.

    A contact of another account or mode is 404; one that cannot be reached is 422
    ``no_route``, both on ``to.contact_id``.
    """
    if command.contact_id is None:
        return command
    try:
        contact, pairs = await contact_service.contact_targets(
            conn, key.account_id, key.mode, command.contact_id
        )
    except NotFound:
        raise NotFound(f"no contact {command.contact_id}", field=CONTACT_FIELD) from None
    options = command.options
    if command.channel is None:
        usable = await _usable(conn, key, contact_service.routable(contact))
        kind = str(command.content.get("type"))
        windows = await contact_service.open_windows(conn, key.account_id, key.mode, usable, now)
        # Where the channel's rules would refuse this message now, it is no choice; if they
        # refuse it everywhere, the choice stands and accept says why.
        candidates = [
            p for p in usable if _rules_allow(p[0], p in windows, kind, command.options)
        ] or usable
        costs = {channel: price_of(prices, channel, kind) for channel, _ in candidates}
        try:
            choice = choose_channel(candidates, contact.preferred_channels, windows, costs)
        except NoRoute as error:
            raise contact_service.no_route(error) from None
        channel, to = ChannelType(choice.channel), choice.to
        route: dict[str, object] = {"channel": choice.channel, **choice.reason}
        passed_over = sorted({c for c, _ in usable} - {c for c, _ in candidates})
        if passed_over:
            # Reachable there, but the channel's rules would refuse this message now.
            route["passed_over"] = passed_over
        options = {**(options or {}), ROUTE: route}
    else:
        channel = command.channel
        to = _identity_on(pairs, channel.value, CONTACT_FIELD)
    steps = tuple(
        step
        if step.to
        else replace(step, to=_identity_on(pairs, step.channel, f"fallback.{index}.to"))
        for index, step in enumerate(command.fallback)
    )
    return replace(command, channel=channel, to=to, fallback=steps, options=options)
