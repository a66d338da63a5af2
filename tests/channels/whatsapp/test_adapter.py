"""The WhatsApp Cloud adapter on its own: mapping limits, errors, signatures, parsing, media."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from chatgate.channels import meta, whatsapp_cloud
from chatgate.channels.base import (
    ChannelSettings,
    InboundMessage,
    OutboundMessage,
    ProviderError,
    RawRequest,
    SignatureError,
    StatusUpdate,
    UnknownEvent,
    UnsupportedContent,
)
from chatgate.channels.whatsapp_cloud import WhatsAppCloudAdapter
from chatgate.domain import capabilities as cap
from chatgate.domain.addresses import InvalidAddress, normalize_address
from chatgate.domain.channels import ChannelType
from chatgate.domain.content import InteractiveContent, MediaContent, TemplateContent
from chatgate.domain.status import Status
from tests.channels.whatsapp import contract

Handler = Callable[[httpx.Request], httpx.Response]


def _adapter(**settings: Any) -> WhatsAppCloudAdapter:
    return WhatsAppCloudAdapter(contract.credentials(), ChannelSettings(**settings))


def _message(content: dict[str, Any], reply_to: str | None = None) -> OutboundMessage:
    return OutboundMessage(
        id="msg_01A",
        channel="whatsapp",
        sender=None,
        recipient="+14155550123",
        content=content,
        reply_to=reply_to,
        metadata=None,
    )


def _interactive(**fields: Any) -> dict[str, Any]:
    model = InteractiveContent.model_validate({"interactive": fields})
    return model.model_dump(mode="json", exclude_none=True)


def _reply_buttons(count: int, title: str = "Option") -> list[dict[str, str]]:
    return [{"type": "reply", "id": f"b{i}", "title": title} for i in range(count)]


def _raw(body: Any, **headers: str) -> RawRequest:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawRequest("POST", "https://gw.example/webhooks", headers, {}, data)


# -- building requests ------------------------------------------------------------------


def test_url_follows_api_base_prefix_and_version() -> None:
    request = _adapter(api_base="http://127.0.0.1:9000/graph/", api_version="v23.0").build_request(
        _message({"type": "text", "text": "hi"})
    )
    assert request.url == f"http://127.0.0.1:9000/graph/v23.0/{contract.PHONE_NUMBER_ID}/messages"
    assert (
        _adapter()
        .build_request(_message({"type": "text", "text": "hi"}))
        .url.startswith("https://graph.facebook.com/v21.0/")
    )


def test_built_request_never_holds_the_token() -> None:
    request = _adapter().build_request(_message({"type": "text", "text": "hi"}))
    assert contract.ACCESS_TOKEN not in repr(request)
    assert contract.ACCESS_TOKEN not in repr(_adapter().credentials)
    assert contract.APP_SECRET not in repr(_adapter().credentials)


@pytest.mark.parametrize(
    ("content", "feature"),
    [
        (_interactive(kind="buttons", body="Pick", buttons=_reply_buttons(4)), cap.BUTTONS_REPLY),
        (
            _interactive(kind="buttons", body="Pick", buttons=_reply_buttons(2, "x" * 21)),
            cap.BUTTONS_REPLY,
        ),
        (
            _interactive(kind="buttons", body="x" * 1025, buttons=_reply_buttons(1)),
            cap.BUTTONS_REPLY,
        ),
        (
            _interactive(kind="quick_replies", body="Pick", buttons=_reply_buttons(4)),
            cap.QUICK_REPLIES,
        ),
        (
            _interactive(
                kind="buttons",
                body="Pick",
                buttons=[
                    {"type": "url", "title": "Open", "url": "https://example.com"},
                    {"type": "reply", "id": "r", "title": "Reply"},
                ],
            ),
            cap.BUTTONS_URL,
        ),
        (
            _interactive(
                kind="buttons",
                body="Pick",
                buttons=[{"type": "url", "title": "A" * 21, "url": "https://example.com"}],
            ),
            cap.BUTTONS_URL,
        ),
        (
            _interactive(
                kind="buttons",
                body="Pick",
                buttons=[
                    {"type": "reply", "id": "r", "title": "R"},
                    {"type": "call", "title": "C", "phone": "+1555"},
                ],
            ),
            cap.BUTTONS_CALL,
        ),
        (
            _interactive(
                kind="list",
                body="Pick",
                button_text="Open",
                sections=[
                    {"title": "A", "rows": [{"id": f"a{i}", "title": "Row"} for i in range(6)]},
                    {"title": "B", "rows": [{"id": f"b{i}", "title": "Row"} for i in range(5)]},
                ],
            ),
            cap.LIST,
        ),
        (
            MediaContent.model_validate(
                {"media": {"url": "https://x.example/a.mp3", "caption": "Listen"}}
            ).model_dump(mode="json", exclude_none=True),
            cap.MEDIA_CAPTION,
        ),
        (
            TemplateContent.model_validate(
                {
                    "template": {
                        "name": "jingle",
                        "header": {"media": {"url": "https://x.example/a.mp3"}},
                    }
                }
            ).model_dump(mode="json", exclude_none=True),
            cap.MEDIA_AUDIO,
        ),
    ],
)
def test_what_whatsapp_cannot_carry_is_refused(content: dict[str, Any], feature: str) -> None:
    with pytest.raises(UnsupportedContent) as raised:
        _adapter().build_request(_message(content))
    assert (raised.value.channel, raised.value.feature) == ("whatsapp", feature)


def test_template_without_variables_has_no_components() -> None:
    content = TemplateContent.model_validate({"template": {"name": "hello_world"}})
    body = _adapter().build_request(_message(content.model_dump(mode="json"))).json
    assert body["template"] == {"name": "hello_world", "language": {"code": "en"}}


def test_document_header_keeps_its_filename_and_one_word_contact_names() -> None:
    template = TemplateContent.model_validate(
        {
            "template": {
                "name": "invoice",
                "header": {"media": {"url": "https://x.example/i.pdf", "filename": "i.pdf"}},
            }
        }
    ).model_dump(mode="json", exclude_none=True)
    header = _adapter().build_request(_message(template)).json["template"]["components"][0]
    assert header["parameters"] == [
        {"type": "document", "document": {"link": "https://x.example/i.pdf", "filename": "i.pdf"}}
    ]
    card = {"type": "contact", "contacts": [{"name": "Cher", "emails": ["c@example.com"]}]}
    [contact] = _adapter().build_request(_message(card)).json["contacts"]
    assert contact == {
        "name": {"formatted_name": "Cher", "first_name": "Cher"},
        "emails": [{"email": "c@example.com"}],
    }


# -- sending and errors -----------------------------------------------------------------


async def _send_with(handler: Handler) -> Any:
    adapter = _adapter()
    request = adapter.build_request(_message({"type": "text", "text": "hi"}))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        return await adapter.send(request, http)


def _graph_error(status: int, code: int, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        error = {
            "message": f"(#{code}) failure",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": "details here"},
            "fbtrace_id": "Az",
        }
        return httpx.Response(status, json={"error": error}, headers=headers)

    return handler


async def test_send_uses_the_bearer_token_and_returns_the_wamid() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "messaging_product": "whatsapp",
                "contacts": [{"input": "14155550123", "wa_id": "14155550123"}],
                "messages": [{"id": "wamid.ABC"}],
            },
        )

    result = await _send_with(handler)
    assert result.provider_message_id == "wamid.ABC"
    assert result.receipts == ()
    assert seen[0].headers["authorization"] == f"Bearer {contract.ACCESS_TOKEN}"
    assert json.loads(seen[0].content)["biz_opaque_callback_data"] == "msg_01A"


@pytest.mark.parametrize(
    ("status", "code", "headers", "expected_code", "retryable", "retry_after"),
    [
        (500, 131000, None, "131000", True, None),
        (503, 131016, None, "131016", True, None),
        (400, 130429, None, "130429", True, 1.0),
        (
            400,
            130429,
            {
                "X-Business-Use-Case-Usage": json.dumps(
                    {"1": [{"estimated_time_to_regain_access": 3}]}
                )
            },
            "130429",
            True,
            180.0,
        ),
        (400, 131056, None, "131056", True, 6.0),
        (400, 80007, None, "80007", True, 60.0),
        (400, 4, None, "4", True, 60.0),
        (400, 100, None, "100", False, None),
        (401, 190, None, "190", False, None),
        (403, 10, None, "10", False, None),
        (400, 131047, None, "131047", False, None),
        (400, 131026, None, "131026", False, None),
        (400, 132001, None, "132001", False, None),
        (403, 368, None, "368", False, None),
    ],
)
async def test_graph_errors_are_classified(
    status: int,
    code: int,
    headers: dict[str, str] | None,
    expected_code: str,
    retryable: bool,
    retry_after: float | None,
) -> None:
    with pytest.raises(ProviderError) as raised:
        await _send_with(_graph_error(status, code, headers))
    error = raised.value
    assert (error.code, error.retryable, error.retry_after) == (
        expected_code,
        retryable,
        retry_after,
    )
    assert error.status_code == status
    assert "details here" in error.message
    assert contract.ACCESS_TOKEN not in str(error)


async def test_non_json_and_network_failures() -> None:
    with pytest.raises(ProviderError) as raised:
        await _send_with(lambda request: httpx.Response(502, text="<html>Bad gateway</html>"))
    assert (raised.value.code, raised.value.retryable) == ("http_502", True)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ProviderError) as raised:
        await _send_with(refuse)
    assert (raised.value.code, raised.value.retryable) == ("network_error", True)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ProviderError) as raised:
        await _send_with(slow)
    assert (raised.value.code, raised.value.retryable) == ("timeout", True)


async def test_an_answer_without_message_id_is_not_retried() -> None:
    with pytest.raises(ProviderError) as raised:
        await _send_with(lambda request: httpx.Response(200, json={"messages": []}))
    assert (raised.value.code, raised.value.retryable) == ("bad_response", False)


# -- signatures and the subscription check ----------------------------------------------


# Accepting, wrong, missing and replayed signatures and the subscription check are in the
# contract suite (tests/channels/test_contract/); these are the header's own forms.


def test_signature_header_forms() -> None:
    adapter = _adapter()
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    good = meta.sign(contract.APP_SECRET, body)
    adapter.verify(_raw(body, **{"x-hub-signature-256": "sha256=" + good[7:].upper()}))
    bad = [
        {"x-hub-signature-256": ""},
        {"x-hub-signature-256": good[7:]},  # without the "sha256=" prefix
        # Only the legacy SHA-1 header is not enough.
        {"x-hub-signature": "sha1=" + "0" * 40},
    ]
    for headers in bad:
        with pytest.raises(SignatureError):
            adapter.verify(_raw(body, **headers))


# -- parsing edge cases -----------------------------------------------------------------


def _envelope(value: dict[str, Any], field: str = "messages") -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"value": value, "field": field}]}],
    }


def test_malformed_json_raises_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        _adapter().parse(_raw(b"{not json"))


@pytest.mark.parametrize(
    "body",
    [[], "text", {"object": "page", "entry": []}, {"object": "whatsapp_business_account"}],
)
def test_foreign_shapes_are_unknown_events(body: Any) -> None:
    [event] = _adapter().parse(_raw(body))
    assert isinstance(event, UnknownEvent)


def test_interactive_without_its_object_and_value_errors_are_kept_as_unknown() -> None:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1"},
        "messages": [
            {"from": "14155550123", "id": "wamid.X", "timestamp": "1", "type": "interactive"}
        ],
        "errors": [{"code": 131000, "title": "Something went wrong"}],
    }
    events = _adapter().parse(_raw(_envelope(value)))
    assert [(type(e), e.kind) for e in events] == [
        (UnknownEvent, "interactive"),
        (UnknownEvent, "error"),
    ]


def test_message_facts_and_fallbacks() -> None:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Zoë"}, "wa_id": "14155550123"}],
        "messages": [
            {
                "from": "14155550123",
                "id": "wamid.A",
                "timestamp": "1718111000",
                "type": "text",
                "text": {"body": "hi"},
            },
            {
                "from": "14155550123",
                "id": "wamid.B",
                "timestamp": "soon",
                "type": "text",
                "text": {"body": "x"},
            },
            {"id": "wamid.C", "timestamp": "1", "type": "text", "text": {"body": "no sender"}},
        ],
    }
    first, second, third = _adapter().parse(_raw(_envelope(value)))
    assert isinstance(first, InboundMessage)
    assert first.at == datetime(2024, 6, 11, 13, 3, 20, tzinfo=UTC)
    assert first.sender_name == "Zoë"
    # Without a display number, the business is named by its phone number id.
    assert first.recipient == "106540352242922"
    assert isinstance(second, InboundMessage)
    assert second.at.tzinfo is UTC
    assert isinstance(third, UnknownEvent)


def test_failures_carry_their_error() -> None:
    statuses = [
        {
            "id": "wamid.3",
            "status": "failed",
            "timestamp": "1",
            "recipient_id": "14155550123",
            "errors": [
                {
                    "code": 131026,
                    "title": "Message undeliverable",
                    "message": "Message undeliverable",
                    "error_data": {"details": "Message Undeliverable."},
                }
            ],
        },
    ]
    (failed,) = _adapter().parse(
        _raw(_envelope({"messaging_product": "whatsapp", "statuses": statuses}))
    )
    assert isinstance(failed, StatusUpdate)
    assert (failed.status, failed.error_code) == (Status.FAILED, "131026")
    assert failed.error_message == "Message undeliverable (Message Undeliverable.)"
    assert failed.platform_status == "failed"


def test_other_fields_are_unknown_events_named_after_the_field() -> None:
    [event] = _adapter().parse(_raw(_envelope({"event": "FLAGGED"}, "phone_number_quality_update")))
    assert isinstance(event, UnknownEvent)
    assert event.kind == "phone_number_quality_update"


# -- media ------------------------------------------------------------------------------


async def _fetch(handler: Handler, reference: str = "1478298263174930") -> Any:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        return await _adapter().fetch_media(reference, http)


def _media_host(file_size: int | str, content: bytes = b"x", status: int = 200) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {contract.ACCESS_TOKEN}"
        if request.url.host == "graph.facebook.com":
            url = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"
            return httpx.Response(
                200, json={"url": url, "mime_type": "image/jpeg", "file_size": file_size, "id": "1"}
            )
        return httpx.Response(status, content=content, headers={"content-type": "image/jpeg"})

    return handler


async def test_fetch_media_follows_the_url_with_the_token() -> None:
    file = await _fetch(_media_host(4, b"\xff\xd8\xff\xe0"))
    assert (file.content, file.mime_type) == (b"\xff\xd8\xff\xe0", "image/jpeg")


async def test_fetch_media_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProviderError) as raised:
        await _fetch(_media_host(whatsapp_cloud.MAX_MEDIA_BYTES + 1))
    assert (raised.value.code, raised.value.retryable) == ("media_too_large", False)

    monkeypatch.setattr(whatsapp_cloud, "MAX_MEDIA_BYTES", 10)
    with pytest.raises(ProviderError) as raised:
        await _fetch(_media_host("unknown", b"y" * 11))
    assert raised.value.code == "media_too_large"

    with pytest.raises(ProviderError) as raised:
        await _fetch(_media_host(1, status=404))
    assert (raised.value.code, raised.value.retryable) == ("http_404", False)

    with pytest.raises(ProviderError) as raised:
        await _fetch(_media_host(1), reference="../../me/accounts")
    assert raised.value.code == "invalid_reference"

    with pytest.raises(ProviderError) as raised:
        await _fetch(_graph_error(400, 100))
    assert (raised.value.code, raised.value.retryable) == ("100", False)


# -- business-scoped user ids ----------------------------------------------------------------

USER_ID = "BR.1502576394655843"


@pytest.mark.parametrize("recipient", [USER_ID, "US.ENT.11815799212886844830"])
def test_a_business_scoped_user_id_is_sent_as_recipient_never_to(recipient: str) -> None:
    message = replace(_message({"type": "text", "text": "hi"}), recipient=recipient)
    body = _adapter().build_request(message).json
    assert body["recipient"] == recipient
    assert "to" not in body


def test_a_phone_is_sent_as_to() -> None:
    body = _adapter().build_request(_message({"type": "text", "text": "hi"})).json
    assert body["to"] == contract.RECIPIENT.lstrip("+")
    assert "recipient" not in body


async def test_131062_is_a_permanent_user_id_not_supported() -> None:
    with pytest.raises(ProviderError) as refused:
        await _send_with(_graph_error(400, 131062))
    assert refused.value.code == "user_id_not_supported"
    assert refused.value.retryable is False
    assert "phone" in refused.value.message


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (USER_ID, USER_ID),
        (" US.ENT.118157992128 ", "US.ENT.118157992128"),
        ("+14155550123", "+14155550123"),
    ],
)
def test_whatsapp_addresses_are_phones_or_business_scoped_user_ids(raw: str, normal: str) -> None:
    assert normalize_address(ChannelType.WHATSAPP, raw) == normal


@pytest.mark.parametrize("raw", ["br.123", "BR.", "BR.12-3", "B.123", "BR." + "1" * 129])
def test_malformed_user_ids_are_refused_naming_both_forms(raw: str) -> None:
    with pytest.raises(InvalidAddress, match="business-scoped user id"):
        normalize_address(ChannelType.WHATSAPP, raw)
    # Other phone channels take phones only.
    assert not normalize_ok(ChannelType.SMS, USER_ID)


def normalize_ok(channel: ChannelType, raw: str) -> bool:
    try:
        normalize_address(channel, raw)
    except InvalidAddress:
        return False
    return True


def test_nothing_of_a_signed_webhook_is_left_out() -> None:
    """Items that are not objects and statuses naming no message come out as unknown."""
    value = {
        "messaging_product": "whatsapp",
        "contacts": [{"profile": {"name": "Joana"}, "user_id": USER_ID}],
        "messages": [
            "not an object",
            {"from_user_id": USER_ID, "id": "wamid.A", "type": "text", "text": {"body": "oi"}},
        ],
        "statuses": [{"status": "read", "recipient_user_id": USER_ID}, 7],
    }
    body = _envelope(value)
    body["entry"].append("stray entry")
    events = _adapter().parse(_raw(body))
    kinds = sorted((type(e).__name__, e.kind) for e in events)
    assert kinds == [
        ("InboundMessage", "message"),
        ("UnknownEvent", "status"),
        ("UnknownEvent", "unknown"),
        ("UnknownEvent", "unknown"),
        ("UnknownEvent", "unknown"),
    ]
    [message] = [e for e in events if isinstance(e, InboundMessage)]
    assert (message.sender, message.sender_user_id) == (USER_ID, USER_ID)
