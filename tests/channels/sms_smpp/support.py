"""An in-process SMSC on loopback, sessions tuned for tests (short timers), and SMPP
connections made through the API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

import httpx

from chatgate.channels.base import InboundEvent
from chatgate.channels.sms_smpp_session import SessionConfig
from chatgate.emulators.core import Fault
from chatgate.emulators.smsc import Smsc
from chatgate.net_guard import NetworkPolicy
from tests.support import Tenant, auth

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


async def connect(
    client: httpx.AsyncClient,
    tenant: Tenant,
    smsc: Smsc,
    password: str = PASSWORD,
    *,
    system_id: str = SYSTEM_ID,
    name: str = "smsc",
) -> str:
    """An SMPP connection of ``tenant`` to ``smsc``, made through the API; its id."""
    credentials = {
        "provider": "smpp",
        "host": "127.0.0.1",
        "port": smsc.port,
        "system_id": system_id,
        "password": password,
        "source_addr": SOURCE,
    }
    response = await client.post(
        "/v1/channels",
        json={"type": "sms", "name": name, "credentials": credentials},
        headers=auth(tenant.live),
    )
    assert response.status_code == 201, response.text
    channel_id: str = response.json()["id"]
    return channel_id


def new_account(smsc: Smsc, password: str = PASSWORD) -> str:
    """A new SMSC account of this test's own (a connection of another test never binds it)."""
    system_id = f"esme-{uuid.uuid4().hex[:10]}"
    smsc.passwords[system_id] = password
    return system_id


def binds_of(smsc: Smsc, system_id: str, *, ok: bool = True) -> int:
    """How many binds ``system_id`` made (the successful ones, or every try)."""
    return sum(1 for s, status in smsc.binds if s == system_id and (status == 0 or not ok))
