"""Stored contacts and their identities; every query is scoped by account and mode."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.contacts import Contact, Identity
from chatgate.domain.keys import KeyMode
from chatgate.storage.tables import contact_identities, contacts
from chatgate.storage.upsert import insert_or_ignore

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ContactFilter:
    """What a listing narrows to; ``None`` is no condition. Values are already normal."""

    phone: str | None = None
    email: str | None = None
    channel: str | None = None
    identity: str | None = None
    name_prefix: str | None = None
    # Attributes that must hold these string values (a segment, e.g. {"tier": "gold"}).
    attributes: Mapping[str, str] | None = None


def contact_row(contact: Contact) -> dict[str, Any]:
    """The column values that store ``contact`` (not its identities)."""
    return {
        "id": contact.id,
        "account_id": contact.account_id,
        "mode": contact.mode.value,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "attributes": contact.attributes,
        "preferred_channels": list(contact.preferred_channels) or None,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
    }


def _contact(row: Any, identities: Sequence[Identity] = ()) -> Contact:
    return Contact(
        id=row.id,
        account_id=row.account_id,
        mode=KeyMode(row.mode),
        name=row.name,
        phone=row.phone,
        email=row.email,
        attributes=dict(row.attributes or {}),
        preferred_channels=tuple(row.preferred_channels or ()),
        created_at=row.created_at,
        updated_at=row.updated_at,
        identities=tuple(identities),
    )


def _scoped(account_id: str, mode: KeyMode) -> Any:
    return and_(contacts.c.account_id == account_id, contacts.c.mode == mode.value)


async def insert_contact(conn: AsyncConnection, contact: Contact) -> None:
    """Store a new contact (its identities separately, with :func:`claim_identities`)."""
    await conn.execute(contacts.insert().values(**contact_row(contact)))


async def identities_of(
    conn: AsyncConnection, contact_ids: Sequence[str]
) -> dict[str, list[Identity]]:
    """These contacts' identities, each contact's in channel and identity order."""
    if not contact_ids:
        return {}
    rows = await conn.execute(
        select(
            contact_identities.c.contact_id,
            contact_identities.c.channel,
            contact_identities.c.identity,
            contact_identities.c.username,
        )
        .where(contact_identities.c.contact_id.in_(sorted(set(contact_ids))))
        .order_by(contact_identities.c.channel, contact_identities.c.identity)
    )
    found: dict[str, list[Identity]] = {}
    for row in rows:
        identity = Identity(row.channel, row.identity, row.username)
        found.setdefault(row.contact_id, []).append(identity)
    return found


async def get_contact(
    conn: AsyncConnection, account_id: str, mode: KeyMode, contact_id: str
) -> Contact | None:
    """The account's contact ``contact_id`` of ``mode``, with its identities, if any."""
    row = (
        await conn.execute(
            select(contacts).where(_scoped(account_id, mode), contacts.c.id == contact_id)
        )
    ).first()
    if row is None:
        return None
    return _contact(row, (await identities_of(conn, [row.id])).get(row.id, []))


def _like_prefix(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


async def list_contacts(
    conn: AsyncConnection,
    account_id: str,
    mode: KeyMode,
    filters: ContactFilter,
    *,
    before: str | None,
    limit: int,
) -> list[Contact]:
    """Up to ``limit`` contacts newest first (ids sort by creation), older than ``before``."""
    query = select(contacts).where(_scoped(account_id, mode))
    if filters.phone is not None:
        query = query.where(contacts.c.phone == filters.phone)
    if filters.email is not None:
        query = query.where(func.lower(contacts.c.email) == filters.email.lower())
    if filters.name_prefix is not None:
        query = query.where(
            func.lower(contacts.c.name).like(_like_prefix(filters.name_prefix), escape="\\")
        )
    if filters.channel is not None and filters.identity is not None:
        holder = select(contact_identities.c.contact_id).where(
            contact_identities.c.account_id == account_id,
            contact_identities.c.mode == mode.value,
            contact_identities.c.channel == filters.channel,
            contact_identities.c.identity == filters.identity,
        )
        query = query.where(contacts.c.id.in_(holder))
    elif filters.channel is not None:
        reached = select(contact_identities.c.contact_id).where(
            contact_identities.c.account_id == account_id,
            contact_identities.c.mode == mode.value,
            contact_identities.c.channel == filters.channel,
        )
        query = query.where(contacts.c.id.in_(reached))
    for name, value in (filters.attributes or {}).items():
        query = query.where(contacts.c.attributes[name].as_string() == value)
    if before is not None:
        query = query.where(contacts.c.id < before)
    rows = (await conn.execute(query.order_by(contacts.c.id.desc()).limit(limit))).all()
    identities = await identities_of(conn, [row.id for row in rows])
    return [_contact(row, identities.get(row.id, [])) for row in rows]


async def update_contact(conn: AsyncConnection, contact_id: str, values: dict[str, Any]) -> None:
    """Write ``values`` (column -> value) on the contact."""
    await conn.execute(update(contacts).where(contacts.c.id == contact_id).values(**values))


async def delete_contact(conn: AsyncConnection, contact_id: str) -> None:
    """Remove a contact and its identities (messages keep their ``contact_id``)."""
    await conn.execute(
        delete(contact_identities).where(contact_identities.c.contact_id == contact_id)
    )
    await conn.execute(delete(contacts).where(contacts.c.id == contact_id))


def _pair_condition(pairs: Iterable[Pair]) -> Any:
    return or_(
        *(
            and_(contact_identities.c.channel == channel, contact_identities.c.identity == value)
            for channel, value in pairs
        )
    )


async def holders(
    conn: AsyncConnection, account_id: str, mode: KeyMode, pairs: Sequence[Pair]
) -> dict[Pair, str]:
    """Which contact holds each of these (channel, identity) pairs, for those held."""
    if not pairs:
        return {}
    rows = await conn.execute(
        select(
            contact_identities.c.channel,
            contact_identities.c.identity,
            contact_identities.c.contact_id,
        ).where(
            contact_identities.c.account_id == account_id,
            contact_identities.c.mode == mode.value,
            _pair_condition(pairs),
        )
    )
    return {(row.channel, row.identity): row.contact_id for row in rows}


async def holder_of(
    conn: AsyncConnection, account_id: str, mode: KeyMode, channel: str, identity: str
) -> str | None:
    """The contact holding ``identity`` on ``channel``, if one does (one indexed read)."""
    found: str | None = await conn.scalar(
        select(contact_identities.c.contact_id).where(
            contact_identities.c.account_id == account_id,
            contact_identities.c.mode == mode.value,
            contact_identities.c.channel == channel,
            contact_identities.c.identity == identity,
        )
    )
    return found


async def claim_identities(
    conn: AsyncConnection,
    account_id: str,
    mode: KeyMode,
    contact_id: str,
    pairs: Sequence[Pair],
    at: datetime,
) -> list[Pair]:
    """Give these identities to the contact unless another holds them already; returns
    the pairs that were not free. Insert-or-ignore: a concurrent claim never raises."""
    refused: list[Pair] = []
    for channel, identity in pairs:
        inserted = await insert_or_ignore(
            conn,
            contact_identities,
            {
                "account_id": account_id,
                "mode": mode.value,
                "channel": channel,
                "identity": identity,
                "contact_id": contact_id,
                "created_at": at,
            },
        )
        if not inserted:
            refused.append((channel, identity))
    return refused


async def release_identities(conn: AsyncConnection, contact_id: str, pairs: Sequence[Pair]) -> None:
    """Take these identities from the contact."""
    if pairs:
        await conn.execute(
            delete(contact_identities).where(
                contact_identities.c.contact_id == contact_id, _pair_condition(pairs)
            )
        )


async def contact_id_by_phone(
    conn: AsyncConnection, account_id: str, mode: KeyMode, phone: str
) -> str | None:
    """The oldest contact with this phone number, if there is one."""
    found: str | None = await conn.scalar(
        select(contacts.c.id)
        .where(_scoped(account_id, mode), contacts.c.phone == phone)
        .order_by(contacts.c.id)
        .limit(1)
    )
    return found


async def set_username(
    conn: AsyncConnection,
    account_id: str,
    mode: KeyMode,
    pair: Pair,
    username: str,
) -> None:
    """Keep the username the platform showed with an identity (users may change it)."""
    c = contact_identities.c
    await conn.execute(
        update(contact_identities)
        .where(
            c.account_id == account_id,
            c.mode == mode.value,
            c.channel == pair[0],
            c.identity == pair[1],
            or_(c.username.is_(None), c.username != username),
        )
        .values(username=username)
    )


async def touch_contact(
    conn: AsyncConnection, contact_id: str, at: datetime, name: str | None
) -> None:
    """Note a change at ``at``; give the contact ``name`` if it has none yet."""
    values: dict[str, Any] = {"updated_at": at}
    if name:
        values["name"] = func.coalesce(contacts.c.name, name)
    await conn.execute(update(contacts).where(contacts.c.id == contact_id).values(**values))
