"""Accepting sends through a session: which session, whether it may send, and the new-chat
cap, on a fake clock (each accept is told the time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from chatgate.config import Settings
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import Message
from chatgate.engine.clock import FakeClock
from chatgate.errors import ChatgateError
from chatgate.services.inbound import record_inbound
from chatgate.storage.database import Database
from tests.services.session_world import SESSION_PHONE, SessionWorld, session_world

# 10:00 UTC: 14 hours before the day's cap resets.
MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[SessionWorld]:
    """A new account with keys, on the current store."""
    database = Database(settings)
    yield await session_world(settings, database)
    await database.dispose()


def _refusal(result: Message | ChatgateError) -> ChatgateError:
    assert isinstance(result, ChatgateError), result
    return result


async def test_a_session_may_start_its_number_of_new_chats_per_utc_day(
    world: SessionWorld,
) -> None:
    clock = FakeClock(MORNING)
    session = await world.session("desk", clock(), new_chats_per_day=2)
    first, second, third = await world.accept(clock(), "+237699000001", "+237699000002", "+1555")
    assert isinstance(first, Message)
    assert isinstance(second, Message)
    assert first.connection_id == session.id
    refused = _refusal(third)
    assert (refused.status_code, refused.code, refused.field) == (429, "new_chat_cap_reached", "to")
    assert refused.headers == {"Retry-After": str(14 * 3600)}
    assert refused.details == {
        "session_id": session.id,
        "limit": 2,
        "reset_at": "2026-03-03T00:00:00+00:00",
    }
    assert "'desk'" in refused.message

    clock.advance(3600)
    # Writing again to a chat it started is no new chat; nor is answering a number that
    # wrote to the account first.
    async with world.database.write() as conn:
        await record_inbound(
            conn,
            account_id=world.live.account_id,
            mode=KeyMode.LIVE,
            channel="whatsapp_web",
            sender="+237699000009",
            recipient=SESSION_PHONE,
            content={"type": "text", "text": "hi"},
            provider_message_id="3EB0-in",
            at=clock(),
            connection_id=session.id,
        )
    again, answer, stranger = await world.accept(clock(), "+237699000001", "+237699000009", "+1556")
    assert isinstance(again, Message)
    assert isinstance(answer, Message)
    assert _refusal(stranger).code == "new_chat_cap_reached"

    # A new UTC day: two more.
    clock.now = datetime(2026, 3, 3, 0, 0, 1, tzinfo=UTC)
    results = await world.accept(clock(), "+1555", "+1556", "+1557")
    assert [type(r) for r in results[:2]] == [Message, Message]
    assert _refusal(results[2]).headers == {"Retry-After": str(24 * 3600 - 1)}


async def test_one_request_counts_its_own_new_chats(world: SessionWorld) -> None:
    await world.session("desk", MORNING, new_chats_per_day=1)
    # The same new number twice is one chat; a second new number is over the cap.
    results = await world.accept(MORNING, "+1555", "+1555", "+1556")
    assert [isinstance(r, Message) for r in results] == [True, True, False]


async def test_from_names_the_session_else_the_only_working_one(world: SessionWorld) -> None:
    [missing] = await world.accept(MORNING, "+1555")
    assert (_refusal(missing).code, _refusal(missing).field) == (
        "channel_not_configured",
        "channel",
    )
    pairing = await world.session("pairing", MORNING, state="scan_qr")
    [not_working] = await world.accept(MORNING, "+1555")
    refused = _refusal(not_working)
    assert (refused.status_code, refused.code, refused.field) == (
        409,
        "session_not_connected",
        "from",
    )
    assert "'pairing'" in refused.message
    assert "scan_qr" in refused.message
    assert refused.details["session_id"] == pairing.id

    desk = await world.session("desk", MORNING)
    [only] = await world.accept(MORNING, "+1555")
    assert isinstance(only, Message)
    assert only.connection_id == desk.id
    [named] = await world.accept(MORNING, "+1555", sender="pairing")
    assert _refusal(named).code == "session_not_connected"
    [unknown] = await world.accept(MORNING, "+1555", sender="nobody")
    assert (_refusal(unknown).code, _refusal(unknown).field) == ("channel_not_configured", "from")

    other = await world.session("shop", MORNING)
    [ambiguous] = await world.accept(MORNING, "+1555")
    refused = _refusal(ambiguous)
    assert (refused.status_code, refused.code, refused.field) == (422, "session_required", "from")
    assert "'desk'" in refused.message
    assert "'shop'" in refused.message
    [by_id] = await world.accept(MORNING, "+1555", sender=other.id)
    assert isinstance(by_id, Message)
    assert by_id.connection_id == other.id


async def test_test_keys_keep_the_sandbox_without_a_session(world: SessionWorld) -> None:
    [sandboxed] = await world.accept(MORNING, "+1555", key=world.test)
    assert isinstance(sandboxed, Message)
    assert sandboxed.connection_id is None
    assert sandboxed.created_at == MORNING
