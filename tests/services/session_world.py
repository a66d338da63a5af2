"""An account with a linked-device session in a store, for the tests that accept and
deliver its messages without running the whole gateway."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chatgate.channels.sandbox import SandboxAdapter
from chatgate.config import Settings
from chatgate.crypto import CredentialBox, new_key
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import ApiKey, Message
from chatgate.domain.sessions import SessionPacing, SessionState
from chatgate.errors import ChatgateError
from chatgate.services.accounts import create_account
from chatgate.services.audit import Actor
from chatgate.services.billing import Billing
from chatgate.services.channels import ChannelService
from chatgate.services.keys import KeySpec, create_key
from chatgate.services.send import accept_messages
from chatgate.services.send_command import SendCommand
from chatgate.services.sessions import SessionService
from chatgate.storage.database import Database
from chatgate.storage.sessions import StoredSession

SESSION_PHONE = "+237612345678"


@dataclass
class SessionWorld:
    """An account, its live and test keys, and the services that serve them."""

    database: Database
    settings: Settings
    live: ApiKey
    test: ApiKey
    sessions: SessionService
    channels: ChannelService

    async def session(
        self, name: str, now: datetime, *, state: SessionState = "working", **pacing: int
    ) -> StoredSession:
        """A new session of the account in ``state``."""
        actor = Actor(self.live.account_id)
        async with self.database.write() as conn:
            stored = await self.sessions.create(
                conn, actor, name=name, pacing=SessionPacing(**pacing), now=now
            )
            after = await self.sessions.change_state(conn, stored.id, state, reason=None, now=now)
        assert after is not None
        return after

    async def accept(
        self,
        now: datetime,
        *recipients: str,
        sender: str | None = None,
        key: ApiKey | None = None,
    ) -> Sequence[Message | ChatgateError]:
        """Accept a text to each of ``recipients`` on whatsapp_web, in one request."""
        commands = [
            SendCommand(
                ChannelType.WHATSAPP_WEB, to, {"type": "text", "text": "hello"}, sender=sender
            )
            for to in recipients
        ]
        async with self.database.write() as conn:
            return await accept_messages(
                conn,
                key or self.live,
                commands,
                sandbox=SandboxAdapter(0, 0),
                channels=self.channels,
                billing=Billing(self.settings),
                now=now,
            )


async def session_world(settings: Settings, database: Database) -> SessionWorld:
    """A new account with keys of both modes, on ``database``."""
    account = await create_account(database, f"ses-{uuid.uuid4().hex[:12]}")
    actor = Actor(account.id)
    async with database.write() as conn:
        live, _ = await create_key(conn, actor, KeySpec("live", KeyMode.LIVE, frozenset({"*"})))
        test, _ = await create_key(conn, actor, KeySpec("test", KeyMode.TEST, frozenset({"*"})))
    box = CredentialBox([new_key()])
    channels = ChannelService(box, "http://127.0.0.1:8000")
    return SessionWorld(database, settings, live, test, SessionService(box), channels)
