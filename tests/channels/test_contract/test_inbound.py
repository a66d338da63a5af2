"""Webhooks: signatures accepted and refused, the subscription check, one test per recorded
fixture, status names mapped as the spec says, unknown events kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatgate.channels.base import (
    InboundEvent,
    RawRequest,
    SignatureError,
    StatusUpdate,
    UnknownEvent,
)
from chatgate.domain.json_body import MAX_DEPTH, UnreadableJson
from chatgate.domain.status import Status
from tests.channels.contract import Platform, load_json, summarize
from tests.channels.test_contract.suite import (
    GATEWAY,
    PLATFORMS,
    adapter_for,
    by_platform,
    signed,
    webhook,
)

# -- webhook signatures and the subscription check ------------------------------------------


def _sample_body(platform: Platform) -> Any:
    return load_json(platform.fixture_paths()[0])["body"]


@pytest.mark.parametrize("platform", by_platform())
def test_signature_accepts_the_platforms_signature(platform: Platform) -> None:
    adapter_for(platform).verify(signed(platform, _sample_body(platform)))


@pytest.mark.parametrize("platform", by_platform())
def test_signature_refuses_a_wrong_one(platform: Platform) -> None:
    body = platform.spec.serialize(_sample_body(platform))
    with pytest.raises(SignatureError):
        adapter_for(platform).verify(webhook(platform, body, platform.spec.sign_wrongly(body)))


@pytest.mark.parametrize("platform", by_platform())
def test_signature_refuses_a_missing_one(platform: Platform) -> None:
    body = platform.spec.serialize(_sample_body(platform))
    with pytest.raises(SignatureError):
        adapter_for(platform).verify(webhook(platform, body, {}))


@pytest.mark.parametrize("platform", by_platform())
def test_signature_replayed_on_a_changed_body(platform: Platform) -> None:
    original = _sample_body(platform)
    headers = platform.spec.sign(platform.spec.serialize(original))
    changed = platform.spec.serialize({**original, "tampered": True})
    replayed = webhook(platform, changed, headers)
    if platform.spec.signs_body:
        with pytest.raises(SignatureError):
            adapter_for(platform).verify(replayed)
    else:
        # A header token proves the sender only: the changed body passes, as on the platform.
        adapter_for(platform).verify(replayed)


def _subscription_check(verify_token: str) -> RawRequest:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": verify_token,
        "hub.challenge": "1158201444",
    }
    return RawRequest("GET", GATEWAY, {}, query, b"")


@pytest.mark.parametrize("platform", by_platform())
def test_subscription_check(platform: Platform) -> None:
    adapter = adapter_for(platform)
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
    request = signed(platform, fixture["body"])
    adapter = adapter_for(platform)
    adapter.verify(request)
    assert [summarize(event) for event in adapter.parse(request)] == fixture["expected"]


@pytest.mark.parametrize("platform", by_platform())
def test_status_map_is_the_specs(platform: Platform) -> None:
    adapter = adapter_for(platform)
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
    message_id = platform.spec.sample_message_id
    request = signed(platform, platform.spec.status_webhook(name, message_id))
    adapter = adapter_for(platform)
    adapter.verify(request)
    events = adapter.parse(request)
    assert events
    assert [_status_of(event) for event in events] == [status] * len(events)
    for event in events:
        if isinstance(event, StatusUpdate):
            assert event.platform_status == name
            # The status names the message, or covers it with a watermark.
            assert event.provider_message_id == message_id or event.up_to is not None


def _holds(tree: Any, part: Any) -> bool:
    """Whether ``part`` is ``tree`` or a value somewhere inside it."""
    if tree == part:
        return True
    if isinstance(tree, dict):
        return any(_holds(value, part) for value in tree.values())
    if isinstance(tree, list):
        return any(_holds(value, part) for value in tree)
    return False


@pytest.mark.parametrize("platform", by_platform())
def test_an_unknown_event_kind_is_kept(platform: Platform) -> None:
    path = platform.folder / "fixtures" / f"{platform.spec.unknown_fixture}.json"
    body = load_json(path)["body"]
    request = signed(platform, body)
    adapter = adapter_for(platform)
    adapter.verify(request)
    events = adapter.parse(request)
    assert events
    for event in events:
        assert isinstance(event, UnknownEvent), event
        assert event.kind not in ("message", "status")
        assert _holds(body, event.raw)


@pytest.mark.parametrize("platform", by_platform())
def test_a_body_of_no_known_shape_is_unknown(platform: Platform) -> None:
    body = [{"surprise": True}]
    request = signed(platform, body)
    adapter = adapter_for(platform)
    adapter.verify(request)
    assert adapter.parse(request) == [UnknownEvent(kind="unknown", raw=body)]


@pytest.mark.parametrize(
    "body",
    [
        # Deeper than the gateway keeps (the JSON encoder's limit is not far beyond).
        b'{"deep": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}",
        # Deeper than Python's parser can recurse.
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["past-the-limit", "past-the-interpreter"],
)
@pytest.mark.parametrize("platform", by_platform())
def test_a_body_nested_too_deeply_is_unreadable(platform: Platform, body: bytes) -> None:
    """Signed, ``parse`` refuses it as unreadable (a ``ValueError``: the route's 400)."""
    request = webhook(platform, body, platform.spec.sign(body))
    adapter = adapter_for(platform)
    adapter.verify(request)
    with pytest.raises(UnreadableJson, match="deep"):
        adapter.parse(request)
