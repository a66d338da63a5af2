"""The one contract suite: every adapter, against its goldens, fixtures and emulator.

Each platform supplies a ``SPEC`` (``tests/channels/<platform>/contract.py``), golden
requests and recorded webhooks (see ``tests/channels/contract.py``); every test below is
parametrised over the platforms so that a new one is covered by adding those files only.

- golden requests: ``build_request`` of every sample makes the golden call, or refuses it;
- sends against the platform's emulator: every supported sample succeeds, every fault kind
  fails with the platform's code and the right retry class (the timeout against a real
  server, since an in-process transport ignores client timeouts), or is accepted and then
  reported failed by a signed status webhook;
- webhooks: signatures accepted and refused, the subscription check, one test per recorded
  fixture, status names mapped as the spec says, unknown events kept.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from chatgate.channels.base import (
    ChannelAdapter,
    InboundEvent,
    InboundMessage,
    OutboundMessage,
    ProviderError,
    RawRequest,
    SignatureError,
    StatusUpdate,
    UnknownEvent,
    UnsupportedContent,
)
from chatgate.domain.status import Status
from chatgate.emulators.app import create_emulator_app
from chatgate.emulators.core import EmulatorState, FaultKind, Timing
from tests.channels.contract import (
    CASES,
    PLATFORM_MESSAGE_ID,
    Platform,
    load_json,
    outbound,
    platforms,
    summarize,
)
from tests.support import until

PLATFORMS = platforms()
EMULATOR = "http://emulator"
# Where the emulator posts its webhooks: a catcher in the test, not a real gateway.
GATEWAY = "http://gateway/webhooks"
# Faults a platform may answer at once and that are worth another try.
RETRYABLE_FAULTS = frozenset({"server_error", "timeout", "rate_limit"})
# A throttle hint in whole minutes, so that Meta's minutes and Telegram's seconds agree.
RETRY_AFTER = 120.0
# The timeout fault hangs well past the client's patience; the hung request ends soon after
# the test, so that the server stops without cutting it short.
HANG_SECONDS = 1.0
CLIENT_TIMEOUT = 0.25


def _params(rows: list[tuple[Platform, str]]) -> list[Any]:
    """``(platform, name)`` rows with readable ids: ``whatsapp/image``."""
    return [pytest.param(*row, id=f"{row[0].spec.platform}/{row[1]}") for row in rows]


def _by_platform() -> list[Any]:
    return [pytest.param(platform, id=platform.spec.platform) for platform in PLATFORMS]


def _adapter(platform: Platform) -> ChannelAdapter[Any]:
    return platform.spec.make_adapter(EMULATOR + platform.spec.emulator_prefix)


def _webhook(platform: Platform, body: bytes, headers: Mapping[str, str]) -> RawRequest:
    return RawRequest("POST", f"{GATEWAY}/{platform.spec.platform}", dict(headers), {}, body)


def _signed(platform: Platform, payload: Any) -> RawRequest:
    """A webhook of ``payload`` as the platform writes and signs it."""
    body = platform.spec.serialize(payload)
    return _webhook(platform, body, platform.spec.sign(body))


def test_every_platform_is_found() -> None:
    names = [platform.spec.platform for platform in PLATFORMS]
    assert {"whatsapp", "telegram", "messenger", "instagram"} <= set(names)
    assert len(names) == len(set(names))


# -- golden requests ----------------------------------------------------------------------


@pytest.mark.parametrize("platform", _by_platform())
def test_golden_files_are_exactly_the_cases(platform: Platform) -> None:
    found = sorted(path.stem for path in (platform.folder / "golden").glob("*.json"))
    assert found == sorted(CASES)


@pytest.mark.parametrize(
    ("platform", "case"),
    _params([(platform, case) for platform in PLATFORMS for case in CASES]),
)
def test_golden_request(platform: Platform, case: str) -> None:
    golden = platform.golden(case)
    if golden is None:
        pytest.fail(f"missing {platform.golden_path(case)}")
    adapter = _adapter(platform)
    message = outbound(case, platform.spec.recipient)
    if "unsupported" in golden:
        with pytest.raises(UnsupportedContent) as refused:
            adapter.build_request(message)
        assert (refused.value.channel, refused.value.feature) == (
            platform.spec.platform,
            golden["unsupported"],
        )
        return
    request = adapter.build_request(message)
    assert {"method": request.method, "url": request.url, "json": request.json} == golden


# -- the emulator, in process -------------------------------------------------------------


@dataclass
class Emulator:
    """A platform's emulator with the platform's test account, and the webhooks it sent."""

    platform: Platform
    client: httpx.AsyncClient
    adapter: ChannelAdapter[Any]
    webhooks: list[RawRequest]

    async def control(self, action: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Call the emulator's control API for this platform."""
        url = f"/_emulator/{self.platform.spec.platform}/{action}"
        response = await self.client.post(url, json=dict(payload))
        assert response.is_success, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def received(self) -> list[dict[str, Any]]:
        """The platform calls the emulator logged."""
        response = await self.client.get(f"/_emulator/{self.platform.spec.platform}/received")
        assert response.status_code == 200, response.text
        log: list[dict[str, Any]] = response.json()
        return log

    async def webhook(self, index: int) -> RawRequest:
        """The ``index``-th webhook the emulator sent, once it arrived."""

        async def arrived() -> bool:
            return len(self.webhooks) > index

        await until(arrived, limit=5.0)
        return self.webhooks[index]

    async def user_writes(self) -> str:
        """The test user writes first; the platform's id of that message, as parsed."""
        count = len(self.webhooks)
        await self.control("inbound", self.platform.spec.user_writes)
        hook = await self.webhook(count)
        self.adapter.verify(hook)
        messages = [e for e in self.adapter.parse(hook) if isinstance(e, InboundMessage)]
        assert len(messages) == 1, messages
        return messages[0].provider_message_id


@dataclass
class EmulatorApp:
    """The emulator app of the module, its state, and the webhooks it posted."""

    state: EmulatorState
    app: FastAPI
    webhooks: list[RawRequest]


@pytest.fixture(scope="module")
def emulator_app() -> Iterator[EmulatorApp]:
    """Every platform's emulator in one app, built once: building it is the slow part."""
    webhooks: list[RawRequest] = []

    async def catch(request: httpx.Request) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        webhooks.append(RawRequest("POST", str(request.url), headers, {}, await request.aread()))
        return httpx.Response(200)

    state = EmulatorState(http=httpx.AsyncClient(transport=httpx.MockTransport(catch)))
    yield EmulatorApp(state, create_emulator_app(state), webhooks)
    asyncio.run(state.close())


@pytest.fixture
async def emu(platform: Platform, emulator_app: EmulatorApp) -> AsyncIterator[Emulator]:
    """The platform's emulator as new, with the test account, reached over ASGI."""
    emulator_app.state.reset()
    emulator_app.webhooks.clear()
    # Receipts would come in the background; the tests that want a webhook ask for one.
    emulator_app.state.timing = Timing(sent_after=None, delivered_after=None, read_after=None)
    transport = httpx.ASGITransport(app=emulator_app.app)
    async with httpx.AsyncClient(transport=transport, base_url=EMULATOR, timeout=5.0) as client:
        emulator = Emulator(platform, client, _adapter(platform), emulator_app.webhooks)
        webhook_url = f"{GATEWAY}/{platform.spec.platform}"
        await emulator.control(
            "accounts", {**platform.spec.emulator_account, "webhook_url": webhook_url}
        )
        yield emulator


# -- sends --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "case"),
    _params([(p, case) for p in PLATFORMS for case in CASES if p.supports(case)]),
)
async def test_send_succeeds(platform: Platform, case: str, emu: Emulator) -> None:
    earlier = await emu.user_writes()
    request = emu.adapter.build_request(outbound(case, platform.spec.recipient, earlier=earlier))
    before = len(await emu.received())
    result = await emu.adapter.send(request, emu.client)
    assert result.provider_message_id
    log = await emu.received()
    assert len(log) == before + 1
    call = log[-1]
    assert (call["status"], call["recipient"], call["body"]) == (
        200,
        platform.spec.recipient,
        request.json,
    )
    if call["message_id"] is None:
        # Meta answers a sender action (a reaction) without an id: the adapter makes one.
        assert case == "reaction"
    else:
        assert call["message_id"] == result.provider_message_id


@pytest.mark.parametrize("platform", _by_platform())
def test_every_fault_kind_is_accounted_for(platform: Platform) -> None:
    at_send, later = set(platform.spec.fault_codes), set(platform.spec.async_fault_codes)
    assert at_send | later == set(get_args(FaultKind))
    assert not at_send & later


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
    _params([(p, kind) for p in PLATFORMS for kind in p.spec.fault_codes if kind != "timeout"]),
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
    _params([(p, kind) for p in PLATFORMS for kind in p.spec.async_fault_codes]),
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


# -- the timeout, against a real server -----------------------------------------------------


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[str]:
    """The emulator app served on a free loopback port for the module; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    config = uvicorn.Config(
        create_emulator_app(),
        log_level="warning",
        lifespan="on",
        # A hung request ends by itself within HANG_SECONDS; this only bounds a stuck one.
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10.0
    while not server.started:
        assert thread.is_alive(), "the emulator stopped while starting"
        assert time.monotonic() < deadline, "the emulator did not start in time"
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10.0)
        sock.close()


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
        for action, payload in (
            ("accounts", spec.emulator_account),
            ("inbound", spec.user_writes),
            ("faults", {"kind": "timeout", "seconds": HANG_SECONDS}),
        ):
            response = await control.post(f"/_emulator/{spec.platform}/{action}", json=payload)
            assert response.is_success, response.text
        adapter = spec.make_adapter(emulator_server + spec.emulator_prefix)
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_text(platform)), http)
    _check_refusal(refused.value, platform, "timeout")


# -- webhook signatures and the subscription check ------------------------------------------


def _sample_body(platform: Platform) -> Any:
    return load_json(platform.fixture_paths()[0])["body"]


@pytest.mark.parametrize("platform", _by_platform())
def test_signature_accepts_the_platforms_signature(platform: Platform) -> None:
    _adapter(platform).verify(_signed(platform, _sample_body(platform)))


@pytest.mark.parametrize("platform", _by_platform())
def test_signature_refuses_a_wrong_one(platform: Platform) -> None:
    body = platform.spec.serialize(_sample_body(platform))
    with pytest.raises(SignatureError):
        _adapter(platform).verify(_webhook(platform, body, platform.spec.sign_wrongly(body)))


@pytest.mark.parametrize("platform", _by_platform())
def test_signature_refuses_a_missing_one(platform: Platform) -> None:
    body = platform.spec.serialize(_sample_body(platform))
    with pytest.raises(SignatureError):
        _adapter(platform).verify(_webhook(platform, body, {}))


@pytest.mark.parametrize("platform", _by_platform())
def test_signature_replayed_on_a_changed_body(platform: Platform) -> None:
    original = _sample_body(platform)
    headers = platform.spec.sign(platform.spec.serialize(original))
    changed = platform.spec.serialize({**original, "tampered": True})
    replayed = _webhook(platform, changed, headers)
    if platform.spec.signs_body:
        with pytest.raises(SignatureError):
            _adapter(platform).verify(replayed)
    else:
        # A header token proves the sender only: the changed body passes, as on the platform.
        _adapter(platform).verify(replayed)


def _subscription_check(verify_token: str) -> RawRequest:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": verify_token,
        "hub.challenge": "1158201444",
    }
    return RawRequest("GET", GATEWAY, {}, query, b"")


@pytest.mark.parametrize("platform", _by_platform())
def test_subscription_check(platform: Platform) -> None:
    adapter = _adapter(platform)
    token = platform.spec.verify_token
    if token is None:
        # No such check on this platform: nothing is answered, whatever the token.
        assert adapter.handshake(_subscription_check("anything")) is None
        return
    assert adapter.handshake(_subscription_check(token)) == "1158201444"
    with pytest.raises(SignatureError):
        adapter.handshake(_subscription_check(token + "-guess"))
    assert adapter.handshake(RawRequest("GET", GATEWAY, {}, {}, b"")) is None


# -- recorded webhooks, statuses, unknown events --------------------------------------------


@pytest.mark.parametrize(
    ("platform", "path"),
    [
        pytest.param(p, path, id=f"{p.spec.platform}/{path.stem}")
        for p in PLATFORMS
        for path in p.fixture_paths()
    ],
)
def test_recorded_webhook(platform: Platform, path: Path) -> None:
    fixture = load_json(path)
    assert fixture["description"]
    request = _signed(platform, fixture["body"])
    adapter = _adapter(platform)
    adapter.verify(request)
    assert [summarize(event) for event in adapter.parse(request)] == fixture["expected"]


@pytest.mark.parametrize("platform", _by_platform())
def test_status_map_is_the_specs(platform: Platform) -> None:
    adapter = _adapter(platform)
    assert {name: adapter.map_status(name) for name in platform.spec.statuses} == dict(
        platform.spec.statuses
    )
    # Every name the adapter maps is one the spec knows, so none goes untested.
    assert set(adapter.status_map) <= set(platform.spec.statuses)
    if platform.spec.statuses:
        assert platform.spec.status_webhook is not None


def _status_of(event: InboundEvent) -> Status:
    # An event the adapter does not know reports no status: its status is unknown.
    if isinstance(event, UnknownEvent):
        return Status.UNKNOWN
    assert isinstance(event, StatusUpdate), event
    return event.status


@pytest.mark.parametrize(
    ("platform", "name", "status"),
    [
        pytest.param(p, name, status, id=f"{p.spec.platform}/{name}")
        for p in PLATFORMS
        for name, status in p.spec.statuses.items()
    ],
)
def test_status_webhook_maps(platform: Platform, name: str, status: Status) -> None:
    assert platform.spec.status_webhook is not None
    request = _signed(platform, platform.spec.status_webhook(name, PLATFORM_MESSAGE_ID))
    adapter = _adapter(platform)
    adapter.verify(request)
    events = adapter.parse(request)
    assert events
    assert [_status_of(event) for event in events] == [status] * len(events)
    for event in events:
        if isinstance(event, StatusUpdate):
            assert event.platform_status == name
            # The status names the message, or covers it with a watermark.
            assert event.provider_message_id == PLATFORM_MESSAGE_ID or event.up_to is not None


def _holds(tree: Any, part: Any) -> bool:
    """Whether ``part`` is ``tree`` or a value somewhere inside it."""
    if tree == part:
        return True
    if isinstance(tree, dict):
        return any(_holds(value, part) for value in tree.values())
    if isinstance(tree, list):
        return any(_holds(value, part) for value in tree)
    return False


@pytest.mark.parametrize("platform", _by_platform())
def test_an_unknown_event_kind_is_kept(platform: Platform) -> None:
    path = platform.folder / "fixtures" / f"{platform.spec.unknown_fixture}.json"
    body = load_json(path)["body"]
    request = _signed(platform, body)
    adapter = _adapter(platform)
    adapter.verify(request)
    events = adapter.parse(request)
    assert events
    for event in events:
        assert isinstance(event, UnknownEvent), event
        assert event.kind not in ("message", "status")
        assert _holds(body, event.raw)


@pytest.mark.parametrize("platform", _by_platform())
def test_a_body_of_no_known_shape_is_unknown(platform: Platform) -> None:
    body = [{"surprise": True}]
    request = _signed(platform, body)
    adapter = _adapter(platform)
    adapter.verify(request)
    assert adapter.parse(request) == [UnknownEvent(kind="unknown", raw=body)]
