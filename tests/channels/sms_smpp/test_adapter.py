"""The SMPP adapter: requests per content case (golden files), sends, errors, credentials."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from chatgate.channels.base import OutboundMessage, ProviderError, UnsupportedContent
from chatgate.channels.sms_smpp import SmppAdapter, SmppCredentials, source_address
from chatgate.channels.sms_smpp_pool import SessionPool
from chatgate.channels.sms_smpp_session import SessionConfig
from chatgate.channels.sms_smpp_text import GSM7, UCS2, UDHI, split_udh
from chatgate.emulators.core import Fault
from chatgate.emulators.smsc import Smsc
from tests.channels.contract import CASES, outbound
from tests.channels.sms_smpp.support import (
    LOOPBACK_ALLOWED,
    PASSWORD,
    SOURCE,
    SYSTEM_ID,
    FaultQueue,
    fast_config,
)

GOLDEN = Path(__file__).parent / "golden"
RECIPIENT = "+14155550123"


def adapter(port: int = 2775, pool: SessionPool | None = None, **changes: Any) -> SmppAdapter:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "system_id": SYSTEM_ID,
        "password": PASSWORD,
        "source_addr": SOURCE,
        **changes,
    }
    credentials = SmppCredentials.model_validate(values)
    built = SmppAdapter(credentials, connection_id="ch_test", network=LOOPBACK_ALLOWED)
    built.pool = pool
    return built


def text(body: str, message_id: str = "msg_1") -> OutboundMessage:
    return OutboundMessage(
        id=message_id,
        channel="sms",
        sender=None,
        recipient=RECIPIENT,
        content={"type": "text", "text": body},
        reply_to=None,
        metadata=None,
    )


@pytest.mark.parametrize("case", CASES)
def test_each_content_case_matches_its_golden_request(case: str) -> None:
    golden = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    message = outbound(case, RECIPIENT)
    if "unsupported" in golden:
        with pytest.raises(UnsupportedContent) as refused:
            adapter().build_request(message)
        assert refused.value.feature == golden["unsupported"]
        return
    request = adapter().build_request(message)
    assert {"method": request.method, "url": request.url, "json": request.json} == golden


def test_a_160_character_text_is_one_gsm7_part_with_a_receipt_asked_for() -> None:
    (part,) = adapter().build_request(text("a" * 160)).json["parts"]
    assert part["data_coding"] == GSM7
    assert part["esm_class"] == 0
    assert part["registered_delivery"] == 1
    assert bytes.fromhex(part["short_message"]) == b"a" * 160
    assert (part["dest_addr_ton"], part["dest_addr_npi"], part["destination_addr"]) == (
        1,
        1,
        "14155550123",
    )


def test_a_161_character_text_is_two_parts_with_one_reference() -> None:
    first, second = adapter().build_request(text("b" * 161)).json["parts"]
    headers = [bytes.fromhex(p["short_message"])[:6] for p in (first, second)]
    assert headers[0][:3] == headers[1][:3] == b"\x05\x00\x03"
    assert headers[0][3] == headers[1][3]  # the same reference
    assert [h[4:] for h in headers] == [b"\x02\x01", b"\x02\x02"]
    assert first["esm_class"] == second["esm_class"] == UDHI
    # A retried send carries the same reference: it is the message's, not random.
    again = adapter().build_request(text("b" * 161)).json["parts"]
    assert again == [first, second]


def test_an_emoji_text_is_ucs2() -> None:
    (part,) = adapter().build_request(text("Thanks 🙏")).json["parts"]
    assert part["data_coding"] == UCS2
    assert bytes.fromhex(part["short_message"]).decode("utf-16-be") == "Thanks 🙏"


def test_senders_get_their_ton_and_npi() -> None:
    assert source_address("+14155550100") == (1, 1, "14155550100")
    assert source_address("12345") == (3, 0, "12345")
    assert source_address("Chatgate") == (5, 0, "Chatgate")


def test_credentials_are_the_issue_names_and_the_password_stays_secret() -> None:
    credentials = adapter().credentials
    assert set(SmppCredentials.model_fields) == {
        "provider",
        "host",
        "port",
        "system_id",
        "password",
        "source_addr",
    }
    assert PASSWORD not in repr(credentials)
    with pytest.raises(ValidationError):
        SmppCredentials.model_validate({"provider": "twilio", "host": "x"})


def test_an_smsc_sends_no_webhooks() -> None:
    from chatgate.channels.base import RawRequest, SignatureError

    with pytest.raises(SignatureError):
        adapter().verify(RawRequest("POST", "http://x", {}, {}, b"{}"))


@pytest.fixture
async def pool() -> AsyncIterator[SessionPool]:
    sessions = SessionPool()
    yield sessions
    await sessions.close()


async def _send(built: SmppAdapter, body: str) -> str:
    async with httpx.AsyncClient() as http:
        result = await built.send(built.build_request(text(body)), http)
    return result.provider_message_id


@pytest.mark.usefixtures("tuned")
async def test_a_send_submits_every_part_and_keeps_their_ids(smsc: Smsc, pool: SessionPool) -> None:
    built = adapter(smsc.port, pool)
    platform_id = await _send(built, "c" * 200)
    assert platform_id == ",".join(str(entry.message_id) for entry in smsc.submitted)
    assert [entry.text for entry in smsc.submitted] == ["c" * 153, "c" * 47]
    first = bytes.fromhex(smsc.submitted[0].fields["short_message"])
    assert split_udh(first)[0] is not None


@pytest.mark.usefixtures("tuned")
async def test_a_throttled_smsc_is_waited_for(
    smsc: Smsc, faults: FaultQueue, pool: SessionPool
) -> None:
    faults.faults.append(Fault(kind="rate_limit", count=3))
    platform_id = await _send(adapter(smsc.port, pool), "hello")
    assert platform_id == smsc.submitted[-1].message_id
    assert [entry.status for entry in smsc.submitted] == [0x58, 0x58, 0x58, 0]


@pytest.mark.usefixtures("tuned")
@pytest.mark.parametrize(
    ("kind", "code", "retryable"),
    [
        ("invalid_recipient", "invalid_recipient", False),
        ("permanent", "submit_failed", False),
        ("server_error", "system_error", True),
    ],
)
async def test_refusals_are_classified(
    smsc: Smsc, faults: FaultQueue, pool: SessionPool, kind: str, code: str, retryable: bool
) -> None:
    faults.faults.append(Fault(kind=kind))  # type: ignore[arg-type]
    with pytest.raises(ProviderError) as refused:
        await _send(adapter(smsc.port, pool), "hello")
    assert (refused.value.code, refused.value.retryable) == (code, retryable)


async def test_endless_throttling_is_a_retryable_error(
    smsc: Smsc, faults: FaultQueue, pool: SessionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SmppAdapter, "session_defaults", fast_config(0, throttle_tries=2))
    faults.faults.append(Fault(kind="rate_limit", count=10))
    with pytest.raises(ProviderError) as refused:
        await _send(adapter(smsc.port, pool), "hello")
    assert (refused.value.code, refused.value.retryable) == ("throttled", True)


@pytest.mark.usefixtures("tuned")
async def test_a_refused_bind_fails_the_send_for_good(smsc: Smsc, pool: SessionPool) -> None:
    built = adapter(smsc.port, pool, password="wrong")
    with pytest.raises(ProviderError) as refused:
        await _send(built, "hello")
    assert (refused.value.code, refused.value.retryable) == ("bind_failed", False)
    assert "wrong" not in refused.value.message


@pytest.mark.usefixtures("tuned")
async def test_a_send_after_its_connection_was_removed_binds_nothing(
    smsc: Smsc, pool: SessionPool
) -> None:
    built = adapter(smsc.port, pool)
    await _send(built, "before")
    await pool.remove_connection("ch_test")
    assert smsc.unbinds == [SYSTEM_ID]
    with pytest.raises(ProviderError) as refused:
        await _send(built, "after")  # it had read the connection before it went
    assert (refused.value.code, refused.value.retryable) == ("channel_not_configured", False)
    assert [status for _, status in smsc.binds] == [0]
    assert [entry.text for entry in smsc.submitted] == ["before"]


async def test_an_unreachable_smsc_is_worth_another_try(
    pool: SessionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    config: SessionConfig = fast_config(0, bind_wait_seconds=0.3, connect_seconds=0.2)
    monkeypatch.setattr(SmppAdapter, "session_defaults", config)
    with pytest.raises(ProviderError) as refused:
        await _send(adapter(1, pool), "hello")  # nothing listens on port 1
    assert (refused.value.code, refused.value.retryable) == ("network_error", True)


def test_receipt_states_map_to_ours() -> None:
    from chatgate.domain.status import Status

    built = adapter()
    assert built.map_status("DELIVRD") is Status.DELIVERED
    assert {built.map_status(s) for s in ("UNDELIV", "EXPIRED", "DELETED", "REJECTD")} == {
        Status.FAILED
    }
    assert built.map_status("ENROUTE") is Status.SENT
    assert built.map_status("UNKNOWN") is Status.UNKNOWN
