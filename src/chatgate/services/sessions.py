"""Linked-device sessions: create, change, remove; and the state changes their runner reports.

The device's keys (what resumes a paired session without a new QR) are encrypted like
channel credentials and never shown. Every change of a session's state logs a
``session.status`` event of its account in the same transaction, for webhooks, the event
log and the session's stream; each QR code shown logs a ``session.qr`` event. Sessions are
live-mode objects like channel connections: their events are the live log's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.crypto import CredentialBox
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.domain.sessions import (
    SESSION_QR_EVENT,
    SESSION_STATUS_EVENT,
    SessionPacing,
    SessionState,
)
from chatgate.errors import Conflict, NotFound
from chatgate.services.audit import Actor, record
from chatgate.services.session_connections import (
    add_connection,
    remove_connection,
    sync_connection,
)
from chatgate.storage import events as event_store
from chatgate.storage import sessions as session_store
from chatgate.storage.sessions import StoredSession
from chatgate.storage.types import utcnow

REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class SessionView:
    """What may be shown of a session: everything but its device keys."""

    id: str
    name: str
    state: str
    reason: str | None
    phone: str | None
    phone_name: str | None
    pacing: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    state_changed_at: datetime


@dataclass(frozen=True, slots=True)
class Pairing:
    """The phone a session is paired with, as the driver reported it."""

    jid: str
    phone: str
    name: str
    device_state: str | None


def _name_taken() -> Conflict:
    # A session is a channel too: its name is unique among the account's channels.
    return Conflict(
        "a session or channel with this name already exists", code="name_taken", field="name"
    )


def status_detail(stored: StoredSession, state: str) -> dict[str, Any]:
    """The data of a ``session.status`` event (never the device's keys)."""
    return {
        "session_id": stored.id,
        "name": stored.name,
        "state": state,
        "reason": stored.reason,
        "phone": stored.phone,
        "phone_name": stored.push_name,
    }


async def _announce(conn: AsyncConnection, stored: StoredSession, state: str, at: datetime) -> None:
    await event_store.append_account_event(
        conn,
        stored.account_id,
        KeyMode.LIVE,
        SESSION_STATUS_EVENT,
        status_detail(stored, state),
        at,
    )


class SessionService:
    """Sessions of accounts, their device keys kept in ``box``."""

    def __init__(self, box: CredentialBox) -> None:
        self.box = box

    @staticmethod
    def view(stored: StoredSession) -> SessionView:
        """The session as the API and the CLI show it."""
        return SessionView(
            id=stored.id,
            name=stored.name,
            state=stored.state,
            reason=stored.reason,
            phone=stored.phone,
            phone_name=stored.push_name,
            pacing=stored.pacing,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
            state_changed_at=stored.state_changed_at,
        )

    def device_state(self, stored: StoredSession) -> str | None:
        """The device's keys in clear, for its driver (``None`` until paired)."""
        if stored.device_state is None:
            return None
        state: str = self.box.decrypt(stored.device_state)["device_state"]
        return state

    async def create(
        self,
        conn: AsyncConnection,
        actor: Actor,
        *,
        name: str,
        pacing: SessionPacing,
        now: datetime,
    ) -> StoredSession:
        """A new session of ``actor``'s account, ``starting`` (a runner pairs it), audited."""
        stored = StoredSession(
            id=new_id("ses"),
            account_id=actor.account_id,
            name=name,
            state="starting",
            reason=None,
            wanted=True,
            phone=None,
            push_name=None,
            jid=None,
            device_state=None,
            qr=None,
            pacing=pacing.model_dump(),
            created_at=now,
            updated_at=now,
            state_changed_at=now,
        )
        try:
            await session_store.insert_session(conn, stored)
            await add_connection(conn, stored)
        except IntegrityError:
            raise _name_taken() from None
        await _announce(conn, stored, stored.state, now)
        await record(conn, actor, "session.created", stored.id, {"name": name})
        return stored

    async def get(self, conn: AsyncConnection, account_id: str, session_id: str) -> StoredSession:
        """A session of the account, or 404."""
        found = await session_store.get_session(conn, session_id, account_id)
        if found is None:
            raise NotFound("no such session", field="id")
        return found

    async def find(self, conn: AsyncConnection, account_id: str, reference: str) -> StoredSession:
        """A session of the account by id or name, or 404."""
        found = await session_store.find_session(conn, account_id, reference)
        if found is None:
            raise NotFound(f"no session {reference!r}", field="id")
        return found

    async def pair_again(
        self, conn: AsyncConnection, actor: Actor, session_id: str, now: datetime
    ) -> StoredSession:
        """Run a session that is stopped or failed again (a logged-out one shows a new QR
        code); one that runs already is left as it is."""
        stored = await self.get(conn, actor.account_id, session_id)
        if stored.wanted and stored.state not in ("failed", "stopped"):
            return stored
        await self.set_wanted(conn, stored.id, True, now)
        after = await self.change_state(conn, stored.id, "starting", reason=None, now=now)
        assert after is not None  # read in this very transaction
        await record(conn, actor, "session.started", stored.id, {"name": stored.name})
        return after

    async def stop(
        self, conn: AsyncConnection, actor: Actor, session_id: str, now: datetime
    ) -> StoredSession:
        """Stop a session: its worker closes the connection, the device stays linked, and
        it stays stopped (across restarts too) until started again."""
        stored = await self.get(conn, actor.account_id, session_id)
        await self.set_wanted(conn, stored.id, False, now)
        after = await self.change_state(conn, stored.id, "stopped", reason=None, now=now)
        assert after is not None  # read in this very transaction
        await record(conn, actor, "session.stopped", stored.id, {"name": stored.name})
        return after

    async def update(
        self,
        conn: AsyncConnection,
        actor: Actor,
        session_id: str,
        *,
        name: str | None,
        pacing: dict[str, Any] | None,
        now: datetime,
    ) -> StoredSession:
        """Rename a session or change its pacing (merged into the old), audited."""
        stored = await self.get(conn, actor.account_id, session_id)
        values: dict[str, Any] = {"updated_at": now}
        if name is not None:
            values["name"] = name
        if pacing is not None:
            values["pacing"] = SessionPacing.model_validate(
                {**stored.pacing, **pacing}
            ).model_dump()
        try:
            await session_store.update_session(conn, stored.id, values)
            after = await self.get(conn, actor.account_id, session_id)
            await sync_connection(conn, after, now)
        except IntegrityError:
            raise _name_taken() from None
        fields = sorted(k for k in values if k != "updated_at")
        await record(conn, actor, "session.updated", stored.id, {"fields": fields})
        return after

    async def remove(self, conn: AsyncConnection, actor: Actor, session_id: str) -> StoredSession:
        """Forget a session and its device keys (its runner logs the device out when it
        reads the ``removed`` status), audited; the session as it was."""
        stored = await self.get(conn, actor.account_id, session_id)
        await session_store.delete_session(conn, stored.id)
        await remove_connection(conn, stored)
        await _announce(conn, stored, REMOVED, utcnow())
        await record(conn, actor, "session.deleted", stored.id, {"name": stored.name})
        return stored

    # -- what the runner reports -----------------------------------------------------------

    async def change_state(
        self,
        conn: AsyncConnection,
        session_id: str,
        state: SessionState,
        *,
        reason: str | None,
        now: datetime,
        pairing: Pairing | None = None,
        forget_device: bool = False,
    ) -> StoredSession | None:
        """Record the state a runner saw (``None`` if the session is gone meanwhile); a
        ``session.status`` event when the state or its reason changed."""
        stored = await session_store.get_session(conn, session_id)
        if stored is None:
            return None
        values: dict[str, Any] = {"state": state, "reason": reason}
        if state != "scan_qr":
            values["qr"] = None
        if pairing is not None:
            values.update(jid=pairing.jid, phone=pairing.phone, push_name=pairing.name)
            if pairing.device_state is not None:
                values["device_state"] = self.box.encrypt({"device_state": pairing.device_state})
        if forget_device:
            values.update(device_state=None, jid=None)
        changed = (stored.state, stored.reason) != (state, reason) or pairing is not None
        if changed:
            values["state_changed_at"] = now
        await session_store.update_session(conn, session_id, values)
        after = await session_store.get_session(conn, session_id)
        assert after is not None  # updated in this very transaction
        if changed:
            await _announce(conn, after, state, now)
        return after

    async def show_qr(
        self, conn: AsyncConnection, session_id: str, code: str, now: datetime
    ) -> StoredSession | None:
        """A new QR code: the session is ``scan_qr`` and a ``session.qr`` event is logged."""
        after = await self.change_state(conn, session_id, "scan_qr", reason=None, now=now)
        if after is None:
            return None
        await session_store.update_session(conn, session_id, {"qr": code})
        detail = {"session_id": after.id, "name": after.name, "qr": code}
        await event_store.append_account_event(
            conn, after.account_id, KeyMode.LIVE, SESSION_QR_EVENT, detail, now
        )
        return after

    async def set_wanted(
        self, conn: AsyncConnection, session_id: str, wanted: bool, now: datetime
    ) -> None:
        """Whether the session should run (a stopped one stays stopped across restarts)."""
        await session_store.update_session(conn, session_id, {"wanted": wanted, "updated_at": now})
