"""One user under several addresses: their thread's peer, and their contact's identities.

A platform may name a user by a phone and by a platform-scoped user id (WhatsApp's
business-scoped user id), and may leave the phone out (a user who adopted a username). The
user's thread is kept under one address, the *peer*: the address of an existing link, else
of an existing thread, else the one the message came from (the phone when there is one).
Every other address is linked to it (``storage.peer_links``), so the thread and the service
window follow the user whichever address a message or a send names. Links are learned from
messages and from statuses that name the user by both addresses. The user's contact holds
an identity for each address, the user id's with the username.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.addresses import USER_ID_CHANNELS
from chatgate.domain.keys import KeyMode
from chatgate.storage import contacts as contact_store
from chatgate.storage import conversations as conversation_store
from chatgate.storage import peer_links as link_store


def user_addresses(sender: str, profile: Mapping[str, str]) -> list[str]:
    """Every address of an inbound sender: the one it came from, then its user id."""
    user_id = profile.get("user_id")
    if user_id and user_id != sender:
        return [sender, user_id]
    return [sender]


_USER_ID_CHANNELS = frozenset(c.value for c in USER_ID_CHANNELS)


def has_user_ids(channel: str) -> bool:
    """Whether users of ``channel`` may be known under several addresses."""
    return channel in _USER_ID_CHANNELS


async def thread_peer(
    conn: AsyncConnection,
    account_id: str,
    mode: KeyMode,
    channel: str,
    addresses: Sequence[str],
    at: datetime,
) -> str:
    """The peer of the thread of the user with these ``addresses`` (the first is the one
    the message came from); links the others to it."""
    sender = addresses[0]
    if not has_user_ids(channel):
        return sender
    known = await link_store.peers_of(conn, account_id, mode.value, channel, addresses)
    if known:
        # An address already linked names the peer: the user id's link first.
        peer = next(known[a] for a in reversed(addresses) if a in known)
    elif len(addresses) == 1:
        return sender
    else:
        threads = await conversation_store.existing_peers(
            conn, account_id, mode.value, channel, addresses
        )
        peer = next((a for a in addresses if a in threads), sender)
    await link_store.link(conn, account_id, mode.value, channel, addresses, peer, at)
    return peer


async def link_identities(
    conn: AsyncConnection,
    account_id: str,
    mode: KeyMode,
    contact_id: str,
    channel: str,
    addresses: Sequence[str],
    username: str | None,
    at: datetime,
) -> None:
    """Give the contact an identity for each further address of the user (one another
    contact holds stays with it), and keep the username on the user id's identity."""
    pairs = [(channel, address) for address in addresses[1:]]
    if pairs:
        await contact_store.claim_identities(conn, account_id, mode, contact_id, pairs, at)
    if username:
        await contact_store.set_username(conn, account_id, mode, (channel, addresses[-1]), username)
