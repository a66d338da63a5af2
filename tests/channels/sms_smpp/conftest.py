"""Fixtures: an SMSC on a free loopback port, a session pool of the test's own, and
adapters whose sessions notice trouble quickly."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chatgate.channels.sms_smpp import SmppAdapter
from chatgate.channels.sms_smpp_pool import SessionPool
from chatgate.emulators.smsc import Smsc
from tests.channels.sms_smpp.support import FaultQueue, RecordingSink, fast_config, new_smsc


@pytest.fixture
def faults() -> FaultQueue:
    return FaultQueue()


@pytest.fixture
async def smsc(faults: FaultQueue) -> AsyncIterator[Smsc]:
    server = new_smsc(faults)
    await server.start("127.0.0.1", 0)
    yield server
    await server.stop()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def pool(sink: RecordingSink) -> AsyncIterator[SessionPool]:
    sessions = SessionPool()
    sessions.set_sink(sink)
    yield sessions
    await sessions.close()


@pytest.fixture
def tuned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adapters' sessions notice trouble quickly."""
    monkeypatch.setattr(SmppAdapter, "session_defaults", fast_config(0))
