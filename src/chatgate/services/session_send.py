"""Accepting a live send on ``whatsapp_web``: which session carries it, and whether it may.

``from`` names the session by id or name; without it, the account's only working session
carries the message (several working: the request must name one). A session that is not
``working`` refuses the send at once (``409 session_not_connected``): a message is queued
only for a session that can send it (one that drops later keeps its messages queued
until it is back).

The **new-chat cap** protects the number: WhatsApp bans numbers that start many chats with
strangers. A message to a number that never wrote to the account on ``whatsapp_web`` and
that this session never wrote to starts a chat; the session may start
``pacing.new_chats_per_day`` of them per UTC day, and the next is refused with
``429 new_chat_cap_reached``, its ``Retry-After`` the time to the next UTC midnight.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.channels import ChannelType
from chatgate.errors import Conflict, InvalidRequest, RateLimited
from chatgate.storage import channels as channel_store
from chatgate.storage import session_chats
from chatgate.storage import sessions as session_store
from chatgate.storage.channels import StoredConnection
from chatgate.storage.sessions import StoredSession

CHANNEL = ChannelType.WHATSAPP_WEB.value
# The accepted-so-far counter's key of a session's new chats in one request.
_NEW_CHAT = "whatsapp_web.new_chat:"


def _not_configured(sender: str | None, field: str) -> InvalidRequest:
    if sender is not None:
        return InvalidRequest(
            f"no session of this account has the id or name {sender!r}",
            code="channel_not_configured",
            field=f"{field}from",
        )
    return InvalidRequest(
        "no whatsapp_web session is set up for this account; create one with "
        "POST /v1/sessions and scan its QR code, or use a test key to send through the sandbox",
        code="channel_not_configured",
        field=f"{field}channel",
    )


def not_connected(session: StoredSession, field: str = "from") -> Conflict:
    """The refusal of a send through a session that is not ``working``."""
    reason = f", {session.reason}" if session.reason else ""
    return Conflict(
        f"the session {session.name!r} is not connected (it is {session.state}{reason}): "
        "pair it again or wait until it is working",
        code="session_not_connected",
        field=field,
        details={"session_id": session.id, "state": session.state, "reason": session.reason},
    )


async def _chosen(
    conn: AsyncConnection, account_id: str, sender: str | None, prefix: str
) -> StoredSession:
    """The session ``sender`` names, or the account's only working one."""
    if sender is not None:
        found = await session_store.find_session(conn, account_id, sender)
        if found is None:
            raise _not_configured(sender, prefix)
        return found
    sessions = await session_store.list_sessions(conn, account_id)
    working = [s for s in sessions if s.state == "working"]
    if len(working) == 1:
        return working[0]
    if len(working) > 1:
        names = ", ".join(repr(s.name) for s in working)
        raise InvalidRequest(
            f"several sessions are working ({names}): name the one to send through in from",
            code="session_required",
            field=f"{prefix}from",
        )
    if not sessions:
        raise _not_configured(None, prefix)
    default = await channel_store.find_connection(conn, account_id, CHANNEL, None)
    chosen = next((s for s in sessions if default and s.id == default.id), sessions[0])
    raise not_connected(chosen, f"{prefix}from")


def next_utc_midnight(now: datetime) -> datetime:
    """When the UTC day of ``now`` ends."""
    return datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)


async def _check_new_chat(
    conn: AsyncConnection,
    session: StoredSession,
    to: str,
    now: datetime,
    accepted: Counter[tuple[str, str]],
    field: str,
) -> None:
    tag = f"{_NEW_CHAT}{session.id}"
    if accepted[(CHANNEL, to)] or accepted[(tag, to)]:
        return  # this request already writes to them
    if await session_chats.has_chat(conn, session.account_id, CHANNEL, session.id, to):
        return
    cap = int(session.pacing["new_chats_per_day"])
    day = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    started = await session_chats.new_chats_since(
        conn, session.account_id, CHANNEL, session.id, day
    )
    started += sum(1 for key in accepted if key[0] == tag)
    if started >= cap:
        reset = next_utc_midnight(now)
        wait = max(1, math.ceil((reset - now).total_seconds()))
        raise RateLimited(
            f"the session {session.name!r} started its {cap} new chats of today (UTC) with "
            f"numbers that never wrote to it; more from {reset.isoformat()}",
            code="new_chat_cap_reached",
            field=f"{field}to",
            headers={"Retry-After": str(wait)},
            details={"session_id": session.id, "limit": cap, "reset_at": reset.isoformat()},
        )
    accepted[(tag, to)] += 1


async def session_connection(
    conn: AsyncConnection,
    account_id: str,
    sender: str | None,
    to: str,
    now: datetime,
    accepted: Counter[tuple[str, str]],
    *,
    field: str = "",
) -> StoredConnection:
    """The connection of the session that will carry a live send to ``to``, checked: it is
    ``working`` and the send keeps within its new-chat cap. ``field`` prefixes the names of
    the fields errors point at (a fallback step's)."""
    prefix = f"{field}." if field else ""
    session = await _chosen(conn, account_id, sender, prefix)
    if session.state != "working":
        raise not_connected(session, f"{prefix}from")
    connection = await channel_store.get_connection(conn, session.id, account_id)
    if connection is None:  # every session has one; a store edited by hand may not
        raise _not_configured(session.name, prefix)
    await _check_new_chat(conn, session, to, now, accepted, prefix)
    return connection
