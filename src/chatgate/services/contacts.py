"""Contacts: made, read, changed and removed; linked to inbound senders; their channels.

A contact belongs to an account and a mode (a test key sees only test contacts, as with
messages). Its identities are how it is reached on each channel; one identity belongs to
one contact, which the store enforces with the identity's primary key, so that two
concurrent claims of the same identity (two first messages of a new sender) end with one
holder, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain import contacts as rules
from chatgate.domain.addresses import PHONE_CHANNELS
from chatgate.domain.channels import CHANNEL_RULES, ChannelType
from chatgate.domain.contacts import Contact, Identity, InvalidContact
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.domain.routing import NoRoute
from chatgate.errors import Conflict, InvalidRequest, NotFound
from chatgate.services.audit import Actor, record
from chatgate.storage import contacts as store
from chatgate.storage import conversations as conversation_store
from chatgate.storage.contacts import ContactFilter, Pair

# Channels without a service window of their own still count a conversation as open for
# routing when the contact wrote this recently.
DEFAULT_OPEN_WINDOW = timedelta(hours=24)
FIELDS = ("name", "phone", "email", "attributes", "preferred_channels", "identities")


@dataclass(frozen=True, slots=True)
class ContactChanges:
    """What a request sets on a contact; only the fields named in ``given`` change.

    ``identities`` is the whole set (it replaces the contact's); ``None`` on a given field
    clears it.
    """

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    attributes: Mapping[str, Any] | None = None
    preferred_channels: Sequence[str] | None = None
    identities: Sequence[Pair] | None = None
    given: frozenset[str] = frozenset()


def _invalid(error: InvalidContact) -> InvalidRequest:
    return InvalidRequest(error.message, field=error.field, code=error.code)


def _identities(raw: Sequence[Pair]) -> tuple[Pair, ...]:
    if len(raw) > rules.MAX_IDENTITIES:
        raise InvalidContact("identities", f"must have at most {rules.MAX_IDENTITIES} items")
    seen: set[Pair] = set()
    found: list[Pair] = []
    for index, (channel, value) in enumerate(raw):
        where = f"identities.{index}"
        channel = rules.channel_of(channel, f"{where}.channel")
        pair = (channel, rules.normalize_identity(channel, value, f"{where}.id"))
        if pair in seen:
            # Told apart by its code: the two may differ as text, the same once normalised.
            raise InvalidContact(f"{where}.id", "is listed twice", code="duplicate_identity")
        seen.add(pair)
        found.append(pair)
    return tuple(found)


def _preferred(raw: Sequence[str]) -> tuple[str, ...]:
    found: list[str] = []
    for index, channel in enumerate(raw):
        channel = rules.channel_of(channel, f"preferred_channels.{index}")
        if channel in found:
            raise InvalidContact(f"preferred_channels.{index}", "is listed twice")
        found.append(channel)
    return tuple(found)


def prepare(changes: ContactChanges) -> ContactChanges:
    """The changes in normal form (E.164 phones, checked email, attributes and identities);
    422 naming the field on a value we refuse."""
    try:
        return replace(
            changes,
            name=(changes.name or "").strip() or None,
            phone=rules.normalize_phone(changes.phone) if changes.phone else None,
            email=rules.normalize_email(changes.email) if changes.email else None,
            attributes=rules.check_attributes(changes.attributes or {}),
            preferred_channels=_preferred(changes.preferred_channels or ()),
            identities=_identities(changes.identities or ()),
        )
    except InvalidContact as error:
        raise _invalid(error) from None


def identity_taken(field: str, pair: Pair, holder: str) -> Conflict:
    """The refusal of an identity that another contact holds."""
    channel, identity = pair
    return Conflict(
        f"{channel} identity {identity} belongs to contact {holder}",
        code="identity_taken",
        field=field,
        details={"channel": channel, "contact_id": holder},
    )


async def first_taken(
    conn: AsyncConnection,
    account_id: str,
    mode: KeyMode,
    pairs: Sequence[Pair],
    owner: str | None,
) -> tuple[int, Pair, str] | None:
    """The first of ``pairs`` held by a contact other than ``owner``: index, pair, holder."""
    held = await store.holders(conn, account_id, mode, pairs)
    for index, pair in enumerate(pairs):
        holder = held.get(pair)
        if holder is not None and holder != owner:
            return index, pair, holder
    return None


async def _claim(
    conn: AsyncConnection, contact: Contact, pairs: Sequence[Pair], at: datetime
) -> None:
    refused = await store.claim_identities(
        conn, contact.account_id, contact.mode, contact.id, pairs, at
    )
    if refused:
        # Taken since our check by a concurrent writer: raising rolls the whole change back.
        holder = await store.holder_of(conn, contact.account_id, contact.mode, *refused[0])
        raise identity_taken("identities", refused[0], holder or "unknown")


def new_contact(account_id: str, mode: KeyMode, changes: ContactChanges, now: datetime) -> Contact:
    """A contact made of prepared ``changes`` (not stored)."""
    return Contact(
        id=new_id("ct"),
        account_id=account_id,
        mode=mode,
        name=changes.name,
        phone=changes.phone,
        email=changes.email,
        attributes=dict(changes.attributes or {}),
        preferred_channels=tuple(changes.preferred_channels or ()),
        created_at=now,
        updated_at=now,
        identities=tuple(Identity(c, i) for c, i in sorted(changes.identities or ())),
    )


async def insert_new(conn: AsyncConnection, contact: Contact) -> None:
    """Store a new contact with its identities (checked free by the caller)."""
    await store.insert_contact(conn, contact)
    await _claim(
        conn, contact, [(i.channel, i.identity) for i in contact.identities], contact.created_at
    )


async def create_contact(
    conn: AsyncConnection, actor: Actor, mode: KeyMode, changes: ContactChanges, now: datetime
) -> Contact | Conflict:
    """Store a contact from prepared ``changes``; an identity another contact holds is
    refused (returned, before anything is written) as 409 ``identity_taken``."""
    pairs = list(changes.identities or ())
    taken = await first_taken(conn, actor.account_id, mode, pairs, None)
    if taken is not None:
        index, pair, holder = taken
        return identity_taken(f"identities.{index}.id", pair, holder)
    contact = new_contact(actor.account_id, mode, changes, now)
    await insert_new(conn, contact)
    await record(conn, actor, "contact.created", contact.id, _audit_detail(contact))
    return contact


def _audit_detail(contact: Contact, fields: Sequence[str] | None = None) -> dict[str, Any]:
    # Channels and field names only: the contact's phone, email and name are personal data.
    detail: dict[str, Any] = {"channels": sorted({i.channel for i in contact.identities})}
    if fields is not None:
        detail["fields"] = list(fields)
    return detail


async def get_contact(
    conn: AsyncConnection, account_id: str, mode: KeyMode, contact_id: str
) -> Contact:
    """The account's contact of ``mode``, or 404 (for another account's or mode's id too)."""
    found = await store.get_contact(conn, account_id, mode, contact_id)
    if found is None:
        raise NotFound(f"no contact {contact_id}", field="id")
    return found


async def list_contacts(
    conn: AsyncConnection,
    account_id: str,
    mode: KeyMode,
    filters: ContactFilter,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[Contact], bool]:
    """A page of contacts newest first, and whether older ones remain."""
    found = await store.list_contacts(
        conn, account_id, mode, filters, before=cursor, limit=limit + 1
    )
    return found[:limit], len(found) > limit


async def apply_changes(
    conn: AsyncConnection, contact: Contact, changes: ContactChanges, now: datetime
) -> Contact:
    """Write prepared ``changes`` on ``contact`` (its identities replaced when given)."""
    given = changes.given
    values: dict[str, Any] = {"updated_at": now}
    for name in ("name", "phone", "email"):
        if name in given:
            values[name] = getattr(changes, name)
    if "attributes" in given:
        values["attributes"] = dict(changes.attributes or {})
    if "preferred_channels" in given:
        values["preferred_channels"] = list(changes.preferred_channels or ()) or None
    identities = contact.identities
    if "identities" in given:
        wanted = list(changes.identities or ())
        held = [(i.channel, i.identity) for i in contact.identities]
        await store.release_identities(conn, contact.id, [p for p in held if p not in wanted])
        await _claim(conn, contact, [p for p in wanted if p not in held], now)
        identities = tuple(Identity(c, i) for c, i in sorted(wanted))
    await store.update_contact(conn, contact.id, values)
    return replace(
        contact,
        name=values.get("name", contact.name),
        phone=values.get("phone", contact.phone),
        email=values.get("email", contact.email),
        attributes=values.get("attributes", contact.attributes),
        preferred_channels=tuple(changes.preferred_channels or ())
        if "preferred_channels" in given
        else contact.preferred_channels,
        identities=identities,
        updated_at=now,
    )


async def update_contact(
    conn: AsyncConnection,
    actor: Actor,
    mode: KeyMode,
    contact_id: str,
    changes: ContactChanges,
    now: datetime,
) -> Contact:
    """Apply prepared ``changes``: absent fields stay; ``identities`` replaces the set."""
    contact = await get_contact(conn, actor.account_id, mode, contact_id)
    if "identities" in changes.given:
        taken = await first_taken(
            conn, actor.account_id, mode, list(changes.identities or ()), contact.id
        )
        if taken is not None:
            index, pair, holder = taken
            raise identity_taken(f"identities.{index}.id", pair, holder)
    changed = await apply_changes(conn, contact, changes, now)
    fields = [name for name in FIELDS if name in changes.given]
    await record(conn, actor, "contact.updated", contact.id, _audit_detail(changed, fields))
    return changed


async def delete_contact(
    conn: AsyncConnection, actor: Actor, mode: KeyMode, contact_id: str
) -> None:
    """Remove a contact and its identities; its messages keep their ``contact_id``."""
    contact = await get_contact(conn, actor.account_id, mode, contact_id)
    await store.delete_contact(conn, contact.id)
    await record(conn, actor, "contact.deleted", contact.id, _audit_detail(contact))


async def link_inbound(
    conn: AsyncConnection,
    account_id: str,
    mode: KeyMode,
    channel: str,
    peer: str,
    *,
    name: str | None = None,
    at: datetime,
    aliases: Sequence[str] = (),
) -> str:
    """The contact an inbound sender is, made if need be; its id.

    The contact holding (``channel``, ``peer``) if one does (one indexed read: the common
    case), or one of the sender's other addresses on the channel (``aliases``: WhatsApp's
    business-scoped user id); else, on a phone channel, the oldest contact with that phone,
    which gains the identity; else a new contact with that identity (and ``name``, the
    platform profile's). Two first messages of a new sender at once end with one contact:
    the identity is claimed by insert-or-ignore on its primary key, and the loser reads the
    winner's.
    """
    identity = rules.inbound_identity(channel, peer)
    for address in (identity, *aliases):
        found = await store.holder_of(conn, account_id, mode, channel, address)
        if found is not None:
            return found
    phone = rules.phone_of_identity(channel, identity)
    pair = [(channel, identity)]
    if phone is not None:
        existing = await store.contact_id_by_phone(conn, account_id, mode, phone)
        if existing is not None:
            if not await store.claim_identities(conn, account_id, mode, existing, pair, at):
                await store.touch_contact(conn, existing, at, name)
                return existing
            return await _holder_after_race(conn, account_id, mode, channel, identity)
    contact = Contact(
        id=new_id("ct"),
        account_id=account_id,
        mode=mode,
        name=(name or "").strip()[: rules.MAX_NAME] or None,
        phone=phone,
        email=None,
        attributes={},
        preferred_channels=(),
        created_at=at,
        updated_at=at,
    )
    await store.insert_contact(conn, contact)
    if not await store.claim_identities(conn, account_id, mode, contact.id, pair, at):
        return contact.id
    # Another transaction claimed the sender first: ours is surplus.
    await store.delete_contact(conn, contact.id)
    return await _holder_after_race(conn, account_id, mode, channel, identity)


async def _holder_after_race(
    conn: AsyncConnection, account_id: str, mode: KeyMode, channel: str, identity: str
) -> str:
    holder = await store.holder_of(conn, account_id, mode, channel, identity)
    # The insert that lost waited for the winner's commit, so its row is there to read.
    assert holder is not None, "an identity refused by its key must have a holder"
    return holder


def reachable(contact: Contact) -> list[Pair]:
    """The (channel, identity) pairs a contact can be sent to: its identities, then its
    phone on each phone channel where it has no identity of its own."""
    pairs = [(i.channel, i.identity) for i in contact.identities]
    covered = {channel for channel, _ in pairs}
    if contact.phone:
        for channel in sorted(c.value for c in PHONE_CHANNELS):
            if channel not in covered:
                pairs.append((channel, contact.phone))
    return pairs


def routable(contact: Contact) -> list[Pair]:
    """The pairs ``"channel": "auto"`` chooses among: those of :func:`reachable`, but the
    contact's phone on ``whatsapp_web`` only when the contact names that channel in its
    preferred channels (an identity of its own there always counts).

    A session is the account's own phone paired as a linked device, writing first from it
    is capped and risks the number: a contact reached on WhatsApp is not thereby a route
    through a session. A named ``whatsapp_web`` send still takes the phone."""
    own = {identity.channel for identity in contact.identities}
    session = ChannelType.WHATSAPP_WEB.value
    by_phone_allowed = session in own or session in contact.preferred_channels
    return [pair for pair in reachable(contact) if pair[0] != session or by_phone_allowed]


async def contact_targets(
    conn: AsyncConnection, account_id: str, mode: KeyMode, contact_id: str
) -> tuple[Contact, list[Pair]]:
    """The contact (404 for another account's or mode's) and every pair it is reachable on."""
    contact = await get_contact(conn, account_id, mode, contact_id)
    return contact, reachable(contact)


async def open_windows(
    conn: AsyncConnection,
    account_id: str,
    mode: KeyMode,
    candidates: Sequence[Pair],
    now: datetime,
) -> set[Pair]:
    """The candidates whose conversation is open: the contact wrote on that channel within
    its service window (``DEFAULT_OPEN_WINDOW`` on channels without one)."""
    found: set[Pair] = set()
    for channel, identity in candidates:
        wrote = await conversation_store.last_inbound_at(
            conn, account_id, mode.value, channel, identity
        )
        if wrote is None:
            continue
        hours = CHANNEL_RULES[ChannelType(channel)].service_window_hours
        window = timedelta(hours=hours) if hours else DEFAULT_OPEN_WINDOW
        if now - wrote < window:
            found.add((channel, identity))
    return found


def no_route(error: NoRoute) -> InvalidRequest:
    """The API's refusal of a send to a contact it cannot reach (422 ``no_route``)."""
    return InvalidRequest(str(error), code="no_route", field="to.contact_id")
