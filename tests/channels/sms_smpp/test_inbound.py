"""Every kind of ``deliver_sm`` an SMSC sends, from a recorded PDU, and what it becomes.

The SMPP counterpart of the contract suite's fixture tests: an SMSC sends no webhooks, so
each fixture is a ``deliver_sm`` PDU (hex) as it arrives on the session.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from smpplib import command

from chatgate.channels.base import InboundMessage, StatusUpdate
from chatgate.channels.sms_smpp_inbound import ConnectionInbound, PartTracker, platform_id
from chatgate.channels.sms_smpp_pdu import Receipt, id_spellings, read_pdu
from chatgate.channels.sms_smpp_text import concatenation_header
from chatgate.domain.status import Status
from tests.channels.contract import summarize

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.json"))
RECORDED = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in FIXTURES}


async def parsed(hex_pdu: str) -> command.Command:
    reader = asyncio.StreamReader()
    reader.feed_data(bytes.fromhex(hex_pdu))
    reader.feed_eof()
    return await read_pdu(reader)


def comparable(event: Any) -> dict[str, Any]:
    summary = summarize(event)
    if isinstance(event, InboundMessage):
        # An MO deliver_sm has no id of its own: the gateway makes one up.
        assert event.provider_message_id.startswith("mo_")
        summary.pop("provider_message_id")
    return summary


@pytest.mark.parametrize("fixture", sorted(RECORDED))
async def test_each_recorded_deliver_sm_becomes_its_events(fixture: str) -> None:
    recorded = RECORDED[fixture]
    events = ConnectionInbound().events(await parsed(recorded["pdu"]))
    assert [comparable(event) for event in events] == recorded["expected"]
    for event in events:
        assert event.raw  # the PDU's facts are kept


async def test_a_long_user_message_comes_out_whole_after_its_last_part() -> None:
    inbound = ConnectionInbound()
    from chatgate.channels.sms_smpp_pdu import pdu

    def part(seq: int, body: bytes) -> command.Command:
        return pdu(
            "deliver_sm",
            seq,
            source_addr="447700900123",
            destination_addr="14155550100",
            esm_class=0x40,
            data_coding=0,
            short_message=concatenation_header(9, 2, seq) + body,
        )

    # Parts may arrive in any order.
    assert inbound.events(part(2, b"second")) == []
    (message,) = inbound.events(part(1, b"first "))
    assert isinstance(message, InboundMessage)
    assert message.content == {"type": "text", "text": "first second"}


def test_id_spellings_cover_hex_and_decimal() -> None:
    assert "255" in id_spellings("FF")
    assert "ff" in id_spellings("255")
    assert id_spellings(" 00ab ")[0] == "00ab"
    assert "171" in id_spellings("00ab")


def _receipt(message_id: str, stat: str) -> Receipt:
    return Receipt(message_id=message_id, stat=stat, error=None, done_at=None, text="")


def test_a_part_receipt_that_overtakes_the_next_parts_answer_is_kept() -> None:
    tracker = PartTracker()
    token = tracker.expect(2)
    assert tracker.part_sent(token, 0, "a1") == []
    assert tracker.receipt(_receipt("a1", "DELIVRD"), {}) == []
    assert tracker.receipt(_receipt("A1", "DELIVRD"), {}) == []  # a repeat, spelt otherwise
    (update,) = tracker.part_sent(token, 1, "a2") + tracker.receipt(_receipt("a2", "DELIVRD"), {})
    assert isinstance(update, StatusUpdate)
    assert (update.provider_message_id, update.status) == ("a1,a2", Status.DELIVERED)
    # Reported once: a late duplicate receipt brings nothing more.
    assert tracker.receipt(_receipt("a2", "DELIVRD"), {}) == []


def test_a_very_long_part_list_keeps_the_first_id() -> None:
    ids = [f"{n:064d}" for n in range(5)]
    assert platform_id(ids) == ids[0]
    assert platform_id(["1", "2"]) == "1,2"
