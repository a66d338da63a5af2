"""The sandbox adapter: what it answers and which receipts it promises, per options."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chatgate.channels.base import OutboundMessage, ProviderError
from chatgate.channels.sandbox import InvalidSandboxOptions, SandboxAdapter
from chatgate.domain.status import Status


def _message(recipient: str = "+14155550123", **metadata: Any) -> OutboundMessage:
    return OutboundMessage(
        id="msg_1",
        channel="sms",
        sender=None,
        recipient=recipient,
        content={"type": "text", "text": "hi"},
        reply_to=None,
        metadata=metadata or None,
    )


async def _receipts(
    adapter: SandboxAdapter, message: OutboundMessage
) -> list[tuple[float, Status]]:
    async with httpx.AsyncClient() as http:
        result = await adapter.send(adapter.build_request(message), http)
    assert result.provider_message_id.startswith("sbx_")
    return [(receipt.after, receipt.status) for receipt in result.receipts]


async def test_default_delays() -> None:
    adapter = SandboxAdapter(delivered_after=0.4, read_after=3.0)
    assert await _receipts(adapter, _message()) == [(0.4, Status.DELIVERED), (3.0, Status.READ)]


async def test_delays_are_settable_per_message() -> None:
    adapter = SandboxAdapter(delivered_after=0.4, read_after=3.0)
    message = _message(sandbox={"delivered_after": 7, "read_after": 9})
    assert await _receipts(adapter, message) == [(7, Status.DELIVERED), (9, Status.READ)]
    # Read never comes before delivered.
    early_read = _message(sandbox={"delivered_after": 5, "read_after": 1})
    assert await _receipts(adapter, early_read) == [(5, Status.DELIVERED), (5, Status.READ)]


async def test_undeliverable_promises_a_failure() -> None:
    adapter = SandboxAdapter(delivered_after=0.4, read_after=3.0)
    assert await _receipts(adapter, _message("+15005550002")) == [(0.4, Status.FAILED)]


@pytest.mark.parametrize(
    ("message", "code", "retryable"),
    [
        (_message("+15005550001"), "invalid_recipient", False),
        (_message("+15005550003"), "rejected", False),
        (_message("+15005550004"), "unavailable", True),
        (_message(sandbox={"fail": "rejected"}), "rejected", False),
    ],
)
async def test_failures_at_send(message: OutboundMessage, code: str, retryable: bool) -> None:
    adapter = SandboxAdapter(delivered_after=0.4, read_after=3.0)
    with pytest.raises(ProviderError) as raised:
        await _receipts(adapter, message)
    assert (raised.value.code, raised.value.retryable) == (code, retryable)


def test_bad_options_name_the_field() -> None:
    adapter = SandboxAdapter(delivered_after=0.4, read_after=3.0)
    with pytest.raises(InvalidSandboxOptions, match=r"^metadata\.sandbox\.delivered_after: "):
        adapter.build_request(_message(sandbox={"delivered_after": -1}))
    with pytest.raises(InvalidSandboxOptions, match=r"^metadata\.sandbox\.colour: "):
        adapter.build_request(_message(sandbox={"colour": "red"}))


async def test_sends_are_recorded_when_asked(tmp_path: Any) -> None:
    record = tmp_path / "platform.log"
    adapter = SandboxAdapter(delivered_after=0, read_after=0, record_path=str(record))
    try:
        await _receipts(adapter, _message())
        await _receipts(adapter, _message())
    finally:
        adapter.close()
    lines = record.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["msg_1", "msg_1"]
    assert lines[0].split()[1] != lines[1].split()[1]
