"""Sends against each platform's emulator: successes, and every fault kind.

Every supported sample succeeds and is logged as sent (after the upload, for a platform that
takes a file only uploaded first); every fault kind fails with the
platform's code and the right retry class (the timeout against a real server, since an
in-process transport ignores client timeouts), or is accepted and then reported failed by a
signed status webhook; a send whose answer is lost (played by the emulator core alike for
every platform) is kept by the platform and retryable for the adapter.
"""

from __future__ import annotations

import functools
from typing import Any, get_args

import httpx
import pytest

from chatgate import net_guard
from chatgate.channels.base import OutboundMessage, ProviderError, StatusUpdate
from chatgate.domain.status import Status
from chatgate.emulators.core import FaultKind
from tests.channels.contract import CASES, Platform, outbound
from tests.channels.test_contract.harness import Emulator, EmulatorApp
from tests.channels.test_contract.suite import (
    EMULATOR,
    PLATFORMS,
    by_case,
    by_platform,
    request_body,
)

# Faults a platform may answer at once and that are worth another try.
RETRYABLE_FAULTS = frozenset({"server_error", "timeout", "rate_limit"})
# Faults the emulator core plays for every platform alike.
CORE_FAULTS = frozenset({"answer_lost"})
# A throttle hint in whole minutes, so that Meta's minutes and Telegram's seconds agree.
RETRY_AFTER = 120.0
# The timeout fault hangs well past the client's patience; the hung request ends soon after
# the test, so that the server stops without cutting it short.
HANG_SECONDS = 1.0
CLIENT_TIMEOUT = 0.25


# The samples' media are on a host that does not resolve here. An adapter that fetches a
# file to upload it first (Zalo's documents) finds that host at a public stand-in address,
# answered by the test rather than by the emulator.
SAMPLE_MEDIA_HOST = "cdn.example.com"
SAMPLE_MEDIA_ADDRESS = "93.184.215.14"
SAMPLE_PDF = b"%PDF-1.7\n% a sample document\n%%EOF\n"


class _EmulatorWithSampleMedia(httpx.ASGITransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("host") == SAMPLE_MEDIA_HOST:
            return httpx.Response(
                200, content=SAMPLE_PDF, headers={"content-type": "application/pdf"}
            )
        return await super().handle_async_request(request)


@pytest.fixture
def sample_media(monkeypatch: pytest.MonkeyPatch, emulator_app: EmulatorApp) -> httpx.AsyncClient:
    """A client to the emulator that also reaches the samples' media host."""

    async def resolve(host: str, port: int) -> list[str]:
        if host == SAMPLE_MEDIA_HOST:
            return [SAMPLE_MEDIA_ADDRESS]
        return await net_guard.system_resolver(host, port)

    check = functools.partial(net_guard.check_url, resolver=resolve)
    monkeypatch.setattr(net_guard, "check_url", check)
    transport = _EmulatorWithSampleMedia(app=emulator_app.app)
    return httpx.AsyncClient(transport=transport, base_url=EMULATOR, timeout=5.0)


def _same_but_uploaded(built: Any, sent: Any) -> bool:
    """``sent`` is ``built`` with each ``{{...}}`` stand-in (an upload's token, known only
    at send) replaced by a value."""
    if isinstance(built, str) and built.startswith("{{") and built.endswith("}}"):
        return isinstance(sent, str) and bool(sent) and sent != built
    if isinstance(built, dict) and isinstance(sent, dict):
        return built.keys() == sent.keys() and all(
            _same_but_uploaded(built[key], sent[key]) for key in built
        )
    if isinstance(built, list) and isinstance(sent, list):
        return len(built) == len(sent) and all(map(_same_but_uploaded, built, sent))
    return bool(built == sent)


@pytest.mark.parametrize(
    ("platform", "case"),
    by_case([(p, case) for p in PLATFORMS for case in CASES if p.supports(case)]),
)
async def test_send_succeeds(
    platform: Platform, case: str, emu: Emulator, sample_media: httpx.AsyncClient
) -> None:
    earlier = await emu.user_writes()
    request = emu.adapter.build_request(outbound(case, platform.spec.recipient, earlier=earlier))
    before = len(await emu.received())
    async with sample_media:
        result = await emu.adapter.send(request, sample_media)
    assert result.provider_message_id
    log = await emu.received()
    *uploads, call = log[before:]
    # Uploads come first, for no recipient yet; a body names what they answered.
    assert [(u["status"], u["recipient"]) for u in uploads] == [(200, None)] * len(uploads)
    assert (call["status"], call["recipient"]) == (200, platform.spec.recipient)
    built = request_body(request)[1]
    assert (call["body"] == built) if not uploads else _same_but_uploaded(built, call["body"])
    if call["message_id"] is None:
        # Meta answers a sender action (a reaction) without an id: the adapter makes one.
        assert case == "reaction"
    else:
        assert call["message_id"] == result.provider_message_id


@pytest.mark.parametrize("platform", by_platform())
def test_every_fault_kind_is_accounted_for(platform: Platform) -> None:
    at_send, later = set(platform.spec.fault_codes), set(platform.spec.async_fault_codes)
    assert at_send | later | CORE_FAULTS == set(get_args(FaultKind))
    assert not at_send & later
    assert not (at_send | later) & CORE_FAULTS


def _text(platform: Platform) -> OutboundMessage:
    return outbound("text_emoji", platform.spec.recipient)


def _check_refusal(error: ProviderError, platform: Platform, kind: str) -> None:
    assert error.code == platform.spec.fault_codes[kind]
    assert error.retryable is (kind in RETRYABLE_FAULTS)
    if kind == "rate_limit" and platform.spec.rate_limit_hint:
        assert error.retry_after == RETRY_AFTER
    if not error.retryable:
        assert error.retry_after is None


@pytest.mark.parametrize(
    ("platform", "kind"),
    by_case([(p, kind) for p in PLATFORMS for kind in p.spec.fault_codes if kind != "timeout"]),
)
async def test_fault_is_refused_at_send(platform: Platform, kind: str, emu: Emulator) -> None:
    await emu.user_writes()
    fault: dict[str, Any] = {"kind": kind}
    if kind == "rate_limit":
        fault["retry_after"] = RETRY_AFTER
    await emu.control("faults", fault)
    with pytest.raises(ProviderError) as refused:
        await emu.adapter.send(emu.adapter.build_request(_text(platform)), emu.client)
    _check_refusal(refused.value, platform, kind)


@pytest.mark.parametrize(
    ("platform", "kind"),
    by_case([(p, kind) for p in PLATFORMS for kind in p.spec.async_fault_codes]),
)
async def test_fault_is_accepted_then_reported_failed(
    platform: Platform, kind: str, emu: Emulator
) -> None:
    await emu.user_writes()
    await emu.control("faults", {"kind": kind})
    count = len(emu.webhooks)
    result = await emu.adapter.send(emu.adapter.build_request(_text(platform)), emu.client)
    hook = await emu.webhook(count)
    emu.adapter.verify(hook)
    (event,) = emu.adapter.parse(hook)
    assert isinstance(event, StatusUpdate)
    assert (event.status, event.provider_message_id, event.error_code) == (
        Status.FAILED,
        result.provider_message_id,
        platform.spec.async_fault_codes[kind],
    )


@pytest.mark.parametrize("platform", by_platform())
async def test_a_send_whose_answer_is_lost_is_kept_by_the_platform_and_retryable(
    platform: Platform, emu: Emulator
) -> None:
    await emu.user_writes()
    before = len(await emu.received())
    await emu.control("faults", {"kind": "answer_lost", "recipient": platform.spec.recipient})
    with pytest.raises(ProviderError) as lost:
        await emu.adapter.send(emu.adapter.build_request(_text(platform)), emu.client)
    assert lost.value.retryable
    [kept] = [call for call in (await emu.received())[before:] if call["recipient"]]
    assert (kept["status"] < 300, kept["recipient"]) == (True, platform.spec.recipient)
    assert kept["message_id"]


@pytest.mark.parametrize(
    "platform",
    [pytest.param(p, id=p.spec.platform) for p in PLATFORMS if "timeout" in p.spec.fault_codes],
)
async def test_timeout_is_retryable(platform: Platform, emulator_server: str) -> None:
    spec = platform.spec
    # Only the send is impatient; nothing but loopback, no proxy from the environment.
    async with (
        httpx.AsyncClient(base_url=emulator_server, timeout=5.0, trust_env=False) as control,
        httpx.AsyncClient(timeout=CLIENT_TIMEOUT, trust_env=False) as http,
    ):
        steps = [
            ("accounts", spec.emulator_account),
            ("inbound", spec.user_writes),
            ("faults", {"kind": "timeout", "seconds": HANG_SECONDS}),
        ]
        for action, payload in steps:
            if action == "inbound" and not spec.inbound:
                continue  # nobody writes first on a one-way platform
            response = await control.post(f"/_emulator/{spec.platform}/{action}", json=payload)
            assert response.is_success, response.text
        adapter = spec.make_adapter(emulator_server + spec.emulator_prefix)
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_text(platform)), http)
    _check_refusal(refused.value, platform, "timeout")
