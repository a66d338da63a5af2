"""Where the SMPP session pool's events go: the process's recorder of held connections.

``channels/`` never touches the store: the worker hands the pool a recorder
(:class:`ConnectionRecorder`, the core's ``ConnectionEvents``) wrapped in :class:`SmppSink`,
which passes receipts and users' messages on as they are, and turns a session's state and
the SMSC's command status into the connection's status, code and reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from smpplib import consts

from chatgate.channels.base import InboundEvent


class ConnectionRecorder(Protocol):
    """Records a held connection's events and states."""

    async def record(self, connection_id: str, events: Sequence[InboundEvent]) -> None:
        """Store ``events`` (raises if they could not be stored)."""
        ...

    async def state(
        self,
        connection_id: str,
        state: str,
        *,
        code: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Make ``state`` the connection's status."""
        ...


class SmppSink:
    """The pool's :class:`~chatgate.channels.sms_smpp_pool.EventSink` over a recorder."""

    def __init__(self, recorder: ConnectionRecorder) -> None:
        self.recorder = recorder

    async def record(self, connection_id: str, events: Sequence[InboundEvent]) -> None:
        """Store the events of a ``deliver_sm`` (before the session answers it)."""
        await self.recorder.record(connection_id, events)

    async def session_state(self, connection_id: str, state: str, status: int | None) -> None:
        """The session's state, with the SMSC's refusal (``0x0e``, "Invalid Password")."""
        if status is None:
            await self.recorder.state(connection_id, state)
            return
        reason = consts.DESCRIPTIONS.get(status, "unknown error")
        await self.recorder.state(connection_id, state, code=f"0x{status:02x}", reason=reason)
