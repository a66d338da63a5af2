"""The SMPP session and pool against the SMSC emulator, over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from smpplib import consts

from chatgate.channels.base import InboundMessage, StatusUpdate
from chatgate.channels.sms_smpp_pool import SessionPool
from chatgate.channels.sms_smpp_session import (
    BindRefused,
    SessionError,
    SmppSession,
    SubmitRefused,
)
from chatgate.channels.sms_smpp_text import encode_text
from chatgate.domain.status import Status
from chatgate.emulators.core import Fault
from chatgate.emulators.smsc import Smsc
from tests.channels.sms_smpp.support import (
    SYSTEM_ID,
    FaultQueue,
    RecordingSink,
    eventually,
    fast_config,
)

USER = "14155550123"


def submit_fields(text: str = "hello", reference: int = 1) -> list[dict[str, object]]:
    encoded = encode_text(text, reference)
    return [
        {
            "source_addr_ton": 1,
            "source_addr_npi": 1,
            "source_addr": "14155550100",
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "destination_addr": USER,
            "esm_class": encoded.esm_class,
            "registered_delivery": 1,
            "data_coding": encoded.data_coding,
            "short_message": part,
        }
        for part in encoded.parts
    ]


def statuses(sink: RecordingSink) -> list[StatusUpdate]:
    return [event for _, event in sink.events if isinstance(event, StatusUpdate)]


async def test_binds_as_a_transceiver_and_unbinds_on_close(smsc: Smsc) -> None:
    session = SmppSession(fast_config(smsc.port))
    await session.wait_bound(3.0)
    assert session.bound
    assert smsc.binds == [(SYSTEM_ID, 0)]
    assert smsc.bound(SYSTEM_ID) == 1
    await session.close()
    await eventually(lambda: smsc.bound(SYSTEM_ID) == 0)
    assert not session.bound


async def test_closing_a_session_leaves_its_closer_cancelable() -> None:
    session = SmppSession(fast_config(1))  # nothing listens: it keeps trying
    session.start()
    await asyncio.sleep(0)
    closing = asyncio.create_task(session.close())
    await asyncio.sleep(0)  # now waiting for the session's own task to end
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    await session.close()


class _BindAbsorbingCancellation(SmppSession):
    """Its bind completes even when cancelled, as Python 3.11's ``wait_for`` could when
    the SMSC's answer arrived at the moment of the cancellation."""

    binding: asyncio.Event

    async def _bind(self) -> None:
        self.binding.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        await super()._bind()


async def test_closing_ends_a_session_whose_bind_absorbed_the_cancellation(smsc: Smsc) -> None:
    """Closed mid-bind, the session must not run on bound and kept alive, its closer
    waiting forever (nothing to unbind yet, so only cancellation can stop it)."""
    session = _BindAbsorbingCancellation(fast_config(smsc.port))
    session.binding = asyncio.Event()
    session.start()
    await session.binding.wait()
    async with asyncio.timeout(10):  # a guard against hanging, not a timing assertion
        await session.close()
    assert session.state == "closed"
    await eventually(lambda: smsc.bound(SYSTEM_ID) == 0)


async def test_enquire_link_keeps_the_session_alive_both_ways(smsc: Smsc) -> None:
    session = SmppSession(fast_config(smsc.port, enquire_link_seconds=0.02))
    try:
        await session.wait_bound(3.0)
        await eventually(lambda: smsc.enquire_links >= 3)
        # The SMSC's own enquire_link is answered too.
        assert await smsc.ping(SYSTEM_ID)
        assert session.bound
        assert session.binds == 1
    finally:
        await session.close()


async def test_a_wrong_password_is_refused_and_reported(smsc: Smsc, sink: RecordingSink) -> None:
    pool = SessionPool()
    pool.set_sink(sink)
    # The refusal ends the wait at once; the long limit only keeps a loaded machine from
    # reading a slow first bind as an unreachable SMSC.
    config = fast_config(smsc.port, password="wrong", bind_wait_seconds=15.0)
    try:
        with pytest.raises(BindRefused) as refused:
            await pool.submit_message("ch_1", config, submit_fields())
        assert refused.value.status == consts.SMPP_ESME_RINVPASWD
        assert ("ch_1", "bind_failed", consts.SMPP_ESME_RINVPASWD) in sink.states
        assert smsc.submitted == []
    finally:
        await pool.close()


async def test_a_throttled_submit_waits_and_is_sent_again(
    smsc: Smsc, faults: FaultQueue, pool: SessionPool
) -> None:
    faults.faults.append(Fault(kind="rate_limit", count=2))
    message_id = await pool.submit_message("ch_1", fast_config(smsc.port), submit_fields())
    assert [entry.status for entry in smsc.submitted] == [0x58, 0x58, 0]
    assert message_id == smsc.submitted[-1].message_id


async def test_a_submit_throttled_too_often_is_refused(
    smsc: Smsc, faults: FaultQueue, pool: SessionPool
) -> None:
    faults.faults.append(Fault(kind="rate_limit", count=50))
    config = fast_config(smsc.port, throttle_tries=3)
    with pytest.raises(SubmitRefused) as refused:
        await pool.submit_message("ch_1", config, submit_fields())
    assert refused.value.status == consts.SMPP_ESME_RTHROTTLED
    assert len(smsc.submitted) == 3


async def test_an_invalid_destination_is_refused_at_once(
    smsc: Smsc, faults: FaultQueue, pool: SessionPool
) -> None:
    faults.faults.append(Fault(kind="invalid_recipient"))
    with pytest.raises(SubmitRefused) as refused:
        await pool.submit_message("ch_1", fast_config(smsc.port), submit_fields())
    assert refused.value.status == consts.SMPP_ESME_RINVDSTADR
    assert len(smsc.submitted) == 1


async def test_a_submit_whose_answer_is_lost_fails_though_the_smsc_kept_it(
    smsc: Smsc, faults: FaultQueue, pool: SessionPool
) -> None:
    faults.faults.append(Fault(kind="answer_lost"))
    with pytest.raises(SessionError):
        await pool.submit_message("ch_1", fast_config(smsc.port), submit_fields())
    [kept] = smsc.submitted
    assert (kept.status, kept.text) == (0, "hello")
    assert kept.message_id


async def test_the_window_holds_back_submits_without_an_answer(
    smsc: Smsc, faults: FaultQueue, pool: SessionPool
) -> None:
    # The first submit is never answered; with a window of one, the second waits for it.
    faults.faults.append(Fault(kind="timeout"))
    config = fast_config(smsc.port, window=1, response_seconds=0.3)
    session = pool.session("ch_1", config)
    first = asyncio.create_task(session.submit(**submit_fields()[0]))
    await eventually(lambda: len(smsc.submitted) == 1)
    second = asyncio.create_task(session.submit(**submit_fields("second")[0]))
    with pytest.raises(SessionError):
        await first
    failed_at = time.time()
    assert len(smsc.submitted) == 1  # the second was held while the first was out
    assert await second
    assert smsc.submitted[1].at >= failed_at


async def test_submits_keep_the_connection_tps(smsc: Smsc, pool: SessionPool) -> None:
    session = pool.session("ch_1", fast_config(smsc.port, tps=20.0))
    await session.wait_bound(3.0)
    started = time.monotonic()
    await asyncio.gather(*(session.submit(**submit_fields(f"n{i}")[0]) for i in range(5)))
    assert time.monotonic() - started >= 4 / 20.0
    stamps = sorted(entry.at for entry in smsc.submitted)
    assert stamps[-1] - stamps[0] >= 4 / 20.0 - 0.01


async def test_a_lost_connection_is_bound_again(smsc: Smsc, pool: SessionPool) -> None:
    config = fast_config(smsc.port)
    await pool.submit_message("ch_1", config, submit_fields())
    assert smsc.drop(SYSTEM_ID) == 1
    await eventually(lambda: len([b for b in smsc.binds if b[1] == 0]) == 2)
    await pool.submit_message("ch_1", config, submit_fields("after"))
    assert [entry.text for entry in smsc.submitted] == ["hello", "after"]


async def test_a_receipt_is_matched_after_a_reconnect(
    smsc: Smsc, pool: SessionPool, sink: RecordingSink
) -> None:
    smsc.receipt_delay = None  # the receipt is sent by hand, while the ESME is away
    config = fast_config(smsc.port)
    message_id = await pool.submit_message("ch_1", config, submit_fields())
    smsc.drop(SYSTEM_ID)
    smsc.receipt(SYSTEM_ID, message_id, "DELIVRD", USER, "14155550100")
    await eventually(lambda: len(statuses(sink)) == 1)
    update = statuses(sink)[0]
    assert update.provider_message_id == message_id
    assert update.status is Status.DELIVERED
    assert update.platform_status == "DELIVRD"
    assert len([b for b in smsc.binds if b[1] == 0]) == 2


async def test_a_receipt_with_the_decimal_id_finds_the_hex_one(
    smsc: Smsc, pool: SessionPool, sink: RecordingSink
) -> None:
    smsc.receipt_id_format = "decimal"
    message_id = await pool.submit_message("ch_1", fast_config(smsc.port), submit_fields())
    await eventually(lambda: len(statuses(sink)) == 1)
    assert not message_id.isdigit()
    assert statuses(sink)[0].provider_message_id == message_id


async def test_a_multipart_message_is_delivered_only_when_every_part_is(
    smsc: Smsc, pool: SessionPool, sink: RecordingSink
) -> None:
    smsc.receipt_delay = None
    text = "x" * 320  # three parts
    platform_id = await pool.submit_message("ch_1", fast_config(smsc.port), submit_fields(text))
    parts = [entry.message_id for entry in smsc.submitted]
    assert platform_id == ",".join(str(part) for part in parts)
    for part in parts[:2]:
        smsc.receipt(SYSTEM_ID, str(part), "DELIVRD")
    await eventually(lambda: len(smsc.delivered) == 2)
    assert statuses(sink) == []
    smsc.receipt(SYSTEM_ID, str(parts[2]), "DELIVRD")
    await eventually(lambda: len(statuses(sink)) == 1)
    update = statuses(sink)[0]
    assert (update.provider_message_id, update.status) == (platform_id, Status.DELIVERED)


async def test_a_multipart_message_fails_when_one_part_fails(
    smsc: Smsc, pool: SessionPool, sink: RecordingSink
) -> None:
    smsc.receipt_delay = None
    platform_id = await pool.submit_message(
        "ch_1", fast_config(smsc.port), submit_fields("y" * 200)
    )
    first, _ = [entry.message_id for entry in smsc.submitted]
    smsc.receipt(SYSTEM_ID, str(first), "UNDELIV")
    await eventually(lambda: len(statuses(sink)) == 1)
    update = statuses(sink)[0]
    assert update.provider_message_id == platform_id
    assert update.status is Status.FAILED
    assert update.error_code == "001"


async def test_a_user_message_becomes_an_inbound_message(
    smsc: Smsc, pool: SessionPool, sink: RecordingSink
) -> None:
    await pool.session("ch_1", fast_config(smsc.port)).wait_bound(3.0)
    smsc.mo(SYSTEM_ID, "+447700900123", "14155550100", "Hi there €5 👋")
    await eventually(lambda: len(sink.events) == 1)
    connection, event = sink.events[0]
    assert connection == "ch_1"
    assert isinstance(event, InboundMessage)
    assert event.sender == "+447700900123"
    assert event.recipient == "+14155550100"
    assert event.content == {"type": "text", "text": "Hi there €5 👋"}


async def test_a_long_user_message_is_reassembled(
    smsc: Smsc, pool: SessionPool, sink: RecordingSink
) -> None:
    await pool.session("ch_1", fast_config(smsc.port)).wait_bound(3.0)
    text = "".join(chr(ord("a") + i % 26) for i in range(400))
    assert smsc.mo(SYSTEM_ID, "+447700900123", "14155550100", text) == 3
    await eventually(lambda: len(smsc.delivered) == 3)
    assert len(sink.events) == 1
    event = sink.events[0][1]
    assert isinstance(event, InboundMessage)
    assert event.content["text"] == text
    assert len(event.raw) == 3


async def test_a_delivery_not_recorded_is_refused_and_offered_again(
    smsc: Smsc, pool: SessionPool, sink: RecordingSink
) -> None:
    sink.failures = 1
    await pool.session("ch_1", fast_config(smsc.port)).wait_bound(3.0)
    smsc.mo(SYSTEM_ID, "+447700900123", "14155550100", "again")
    await eventually(lambda: len(sink.events) == 1)
    assert sink.failures == 0
    # The SMSC counts the delivery once our answer, sent after recording, reaches it.
    await eventually(lambda: len(smsc.delivered) == 1)
    assert len(sink.events) == 1


async def test_without_a_sink_deliveries_wait_at_the_smsc(smsc: Smsc) -> None:
    pool = SessionPool()
    smsc.redeliver_seconds = 0.05
    try:
        await pool.session("ch_1", fast_config(smsc.port)).wait_bound(3.0)
        smsc.mo(SYSTEM_ID, "+447700900123", "14155550100", "later")
        await eventually(lambda: smsc.refused_deliveries >= 1)
        assert smsc.delivered == []
        sink = RecordingSink()
        pool.set_sink(sink)
        await eventually(lambda: len(sink.events) == 1)
    finally:
        await pool.close()
