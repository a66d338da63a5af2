"""An in-process SMSC on loopback, and sessions tuned for tests (short timers)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from chatgate.channels.base import InboundEvent
from chatgate.channels.sms_smpp_session import SessionConfig
from chatgate.emulators.core import Fault
from chatgate.emulators.smsc import Smsc
from chatgate.net_guard import NetworkPolicy

SYSTEM_ID = "chatgate"
PASSWORD = "s3cret"
SOURCE = "+14155550100"
# The test SMSC listens on loopback, which an operator must allow.
LOOPBACK_ALLOWED = NetworkPolicy(allow_private=True)


def fast_config(port: int, **changes: object) -> SessionConfig:
    """A session to the test SMSC that notices trouble within tenths of a second."""
    config = SessionConfig(
        host="127.0.0.1",
        port=port,
        system_id=SYSTEM_ID,
        password=PASSWORD,
        enquire_link_seconds=5.0,
        response_seconds=2.0,
        connect_seconds=2.0,
        reconnect_base=0.05,
        reconnect_cap=0.2,
        throttle_base=0.02,
        throttle_cap=0.1,
        bind_wait_seconds=3.0,
        network=LOOPBACK_ALLOWED,
    )
    return replace(config, **changes)  # type: ignore[arg-type]


class FaultQueue:
    """The emulator's fault queue, without the rest of its state."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def take(self, recipient: str) -> Fault | None:
        for fault in self.faults:
            if fault.recipient in (None, recipient):
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault
        return None


@dataclass
class RecordingSink:
    """An event sink that keeps what it was given (and can be told to fail)."""

    events: list[tuple[str, InboundEvent]] = field(default_factory=list)
    states: list[tuple[str, str, int | None]] = field(default_factory=list)
    failures: int = 0

    async def record(self, connection_id: str, events: Sequence[InboundEvent]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the store is down")
        self.events += [(connection_id, event) for event in events]

    async def session_state(self, connection_id: str, state: str, status: int | None) -> None:
        self.states.append((connection_id, state, status))


async def eventually(condition: Callable[[], bool | Awaitable[bool]], limit: float = 5.0) -> None:
    """Wait until ``condition`` holds; fail after ``limit`` seconds."""
    async with asyncio.timeout(limit):
        while True:
            found = condition()
            if not isinstance(found, bool):
                found = await found
            if found:
                return
            await asyncio.sleep(0.005)


def new_smsc(faults: FaultQueue | None = None) -> Smsc:
    """An SMSC that knows the test account."""
    smsc = Smsc(faults=(faults or FaultQueue()).take)
    smsc.passwords[SYSTEM_ID] = PASSWORD
    return smsc
