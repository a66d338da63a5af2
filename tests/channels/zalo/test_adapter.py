"""The Zalo adapter on its own: templates, errors, token refresh, signatures, media, and
documents uploaded before they are sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from chatgate.channels.base import (
    ChannelSettings,
    OutboundMessage,
    ProviderError,
    RawRequest,
    SignatureError,
    UnsupportedContent,
)
from chatgate.channels.zalo import ZaloAdapter, ZaloCredentials, zalo_error
from chatgate.channels.zalo_build import FILE_NAME, FILE_TOKEN, FILE_URL, MAX_FILE
from chatgate.domain import capabilities as cap
from chatgate.guarded_http import guarded_client
from chatgate.net_guard import NetworkPolicy
from tests.channels.zalo import contract

API = "https://openapi.zalo.me"
OAUTH = "https://oauth.zaloapp.com/v4/oa/access_token"
Handler = Callable[[httpx.Request], httpx.Response]


def _adapter(api_base: str | None = None) -> ZaloAdapter:
    return ZaloAdapter(contract.credentials(), ChannelSettings(api_base=api_base))


def _message(content: dict[str, Any], reply_to: str | None = None) -> OutboundMessage:
    return OutboundMessage(
        id="msg_01A",
        channel="zalo",
        sender=None,
        recipient=contract.USER_ID,
        content=content,
        reply_to=reply_to,
        metadata=None,
    )


def _template(**template: Any) -> dict[str, Any]:
    return {"type": "template", "template": {"language": "vi", **template}}


TEXT = {"type": "text", "text": "Xin chào"}


# -- transaction and promotion templates ---------------------------------------------------


def test_a_transaction_template_goes_to_the_transaction_endpoint() -> None:
    content = _template(
        name="transaction_order",
        header={"text": "Trạng thái đơn hàng"},
        variables={"Mã đơn": "#1042", "Trạng thái": "Đang giao"},
        buttons=[{"index": 0, "sub_type": "url", "value": "https://shop.example.vn/don/1042"}],
    )
    request = _adapter().build_request(_message(content))
    assert request.url == f"{API}/v3.0/oa/message/transaction"
    assert request.headers["access_token"] == contract.ACCESS_TOKEN
    assert request.json == {
        "recipient": {"user_id": contract.USER_ID},
        "message": {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "transaction_order",
                    "language": "VI",
                    "elements": [
                        {"type": "header", "content": "Trạng thái đơn hàng", "align": "left"},
                        {
                            "type": "table",
                            "content": [
                                {"key": "Mã đơn", "value": "#1042"},
                                {"key": "Trạng thái", "value": "Đang giao"},
                            ],
                        },
                    ],
                    "buttons": [
                        {
                            "title": "shop.example.vn",
                            "type": "oa.open.url",
                            "payload": {"url": "https://shop.example.vn/don/1042"},
                        }
                    ],
                },
            }
        },
    }


def test_a_promotion_has_a_banner_text_paragraphs_and_query_buttons() -> None:
    content = _template(
        name="promotion",
        language="en_US",
        header={"media": {"url": "https://cdn.example.com/sale.png", "kind": "image"}},
        variables=["Sale ends Sunday", "Up to 50% off"],
        buttons=[{"index": 0, "sub_type": "quick_reply", "value": "SHOW_DEALS"}],
    )
    request = _adapter().build_request(_message(content))
    assert request.url == f"{API}/v3.0/oa/message/promotion"
    payload = request.json["message"]["attachment"]["payload"]
    assert payload["template_type"] == "promotion"
    assert payload["language"] == "EN"
    assert payload["elements"] == [
        {"type": "banner", "image_url": "https://cdn.example.com/sale.png"},
        {"type": "text", "align": "left", "content": "Sale ends Sunday"},
        {"type": "text", "align": "left", "content": "Up to 50% off"},
    ]
    assert payload["buttons"] == [
        {"title": "SHOW_DEALS", "type": "oa.query.hide", "payload": "SHOW_DEALS"}
    ]


@pytest.mark.parametrize(
    "template",
    [
        {"name": "order_update", "variables": ["x"]},  # not a Zalo template type
        {"name": "promotion", "language": "pt_BR", "variables": ["x"]},  # neither vi nor en
        {"name": "promotion"},  # nothing in it
        {"name": "promotion", "variables": ["a", "b", "c"]},  # 3 paragraphs
        {"name": "transaction_order", "variables": {str(n): "v" for n in range(6)}},  # 6 rows
        {
            "name": "transaction_order",
            "variables": ["x"],
            "buttons": [{"index": 0, "sub_type": "url", "value": "orders/1042"}],
        },  # a URL suffix of a stored button means nothing here
    ],
)
def test_templates_zalo_cannot_express_are_refused(template: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedContent) as refused:
        _adapter().build_request(_message(_template(**template)))
    assert (refused.value.channel, refused.value.feature) == ("zalo", cap.TEMPLATE)


def test_only_a_text_can_quote_a_message() -> None:
    image = {"type": "media", "media": {"url": "https://cdn.example.com/a.jpg", "kind": "image"}}
    with pytest.raises(UnsupportedContent) as refused:
        _adapter().build_request(_message(image, reply_to="abc123"))
    assert refused.value.feature == cap.REPLY_TO


def test_a_gif_is_sent_as_a_gif() -> None:
    gif = {"type": "media", "media": {"url": "https://cdn.example.com/dance.gif", "kind": "image"}}
    element = _adapter().build_request(_message(gif)).json["message"]["attachment"]["payload"]
    assert element["elements"] == [
        {"media_type": "gif", "url": "https://cdn.example.com/dance.gif"}
    ]


def test_a_list_longer_than_zalo_shows_is_refused() -> None:
    rows = [{"id": f"r{n}", "title": f"Row {n}"} for n in range(5)]
    content = {
        "type": "interactive",
        "interactive": {
            "kind": "list",
            "body": "Pick",
            "button_text": "Rows",
            "sections": [{"rows": rows}],
        },
    }
    with pytest.raises(UnsupportedContent) as refused:
        _adapter().build_request(_message(content))
    assert refused.value.feature == cap.LIST


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "retryable"),
    [(-32, True), (-201, False), (-230, False), (-213, False), (-233, False), (-216, False)],
)
def test_errors_keep_zalos_code(code: int, retryable: bool) -> None:
    error = zalo_error({"error": code, "message": "refused"})
    assert (error.code, error.message, error.retryable) == (str(code), "refused", retryable)
    assert error.retry_after is None


def _client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def _answer(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=body)


async def test_a_refusal_in_a_200_is_a_provider_error() -> None:
    adapter = _adapter()
    async with _client(lambda _: _answer({"error": -230, "message": "no interaction"})) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_message(TEXT)), http)
    assert (refused.value.code, refused.value.retryable) == ("-230", False)


async def test_success_without_a_message_id_is_retryable() -> None:
    adapter = _adapter()
    async with _client(lambda _: _answer({"error": 0, "message": "Success", "data": {}})) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_message(TEXT)), http)
    assert (refused.value.code, refused.value.retryable) == ("bad_response", True)


# -- token refresh ---------------------------------------------------------------------------


class _Zalo:
    """A scripted Zalo: the token it takes, and the refreshes it was asked for."""

    def __init__(self) -> None:
        self.token = "fresh-access"
        self.refreshes: list[httpx.Request] = []
        self.sends: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == OAUTH:
            self.refreshes.append(request)
            return _answer(
                {
                    "access_token": self.token,
                    "refresh_token": "fresh-refresh",
                    "expires_in": "90000",
                }
            )
        used = request.headers["access_token"]
        self.sends.append(used)
        if used != self.token:
            return _answer({"error": -216, "message": "Access token is invalid"})
        return _answer({"error": 0, "message": "Success", "data": {"message_id": "m1"}})


async def test_an_expired_token_is_refreshed_stored_and_the_send_made_again() -> None:
    adapter = _adapter()
    stored: list[BaseModel] = []

    async def keep(credentials: BaseModel) -> None:
        stored.append(credentials)

    adapter.credentials_listener = keep
    zalo = _Zalo()
    async with _client(zalo) as http:
        result = await adapter.send(adapter.build_request(_message(TEXT)), http)
    assert result.provider_message_id == "m1"
    assert zalo.sends == [contract.ACCESS_TOKEN, "fresh-access"]
    [refresh] = zalo.refreshes
    assert refresh.headers["secret_key"] == contract.APP_SECRET
    assert dict(httpx.QueryParams(refresh.content.decode())) == {
        "refresh_token": contract.REFRESH_TOKEN,
        "app_id": contract.APP_ID,
        "grant_type": "refresh_token",
    }
    [new] = stored
    assert isinstance(new, ZaloCredentials)
    assert new.access_token.get_secret_value() == "fresh-access"
    assert new.refresh_token.get_secret_value() == "fresh-refresh"
    assert new.oa_secret_key == contract.credentials().oa_secret_key
    assert adapter.credentials == new


async def test_sends_failing_on_the_same_token_share_one_refresh() -> None:
    adapter = _adapter()
    zalo = _Zalo()
    async with _client(zalo) as http:
        results = await asyncio.gather(
            *(adapter.send(adapter.build_request(_message(TEXT)), http) for _ in range(4))
        )
    assert [r.provider_message_id for r in results] == ["m1"] * 4
    # The refresh token is single use: a second refresh would have spent a spent token.
    assert len(zalo.refreshes) == 1


@pytest.mark.parametrize("code", [-216, -124, -220])
async def test_each_expired_token_code_refreshes(code: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == OAUTH:
            return _answer({"access_token": "fresh", "refresh_token": "r2"})
        if request.headers["access_token"] != "fresh":
            return _answer({"error": code, "message": "Access token is invalid"})
        return _answer({"error": 0, "message": "Success", "data": {"message_id": "m3"}})

    adapter = _adapter()
    async with _client(handler) as http:
        result = await adapter.send(adapter.build_request(_message(TEXT)), http)
    assert result.provider_message_id == "m3"


async def test_a_refused_refresh_token_is_retried_with_zalos_code() -> None:
    # Another worker may have spent it and stored new tokens: the next attempt reads them.
    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == OAUTH:
            return _answer(
                {"error": -14014, "error_name": "Invalid refresh token", "error_reason": "x"}
            )
        return _answer({"error": -216, "message": "Access token is invalid"})

    adapter = _adapter()
    async with _client(handler) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_message(TEXT)), http)
    assert (refused.value.code, refused.value.retryable) == ("-14014", True)
    assert "Invalid refresh token" in refused.value.message


async def test_a_token_refused_again_after_the_refresh_is_not_refreshed_twice() -> None:
    refreshes: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == OAUTH:
            refreshes.append(request)
            return _answer({"access_token": "fresh", "refresh_token": "r2"})
        return _answer({"error": -216, "message": "Access token is invalid"})

    adapter = _adapter()
    async with _client(handler) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_message(TEXT)), http)
    assert (refused.value.code, refused.value.retryable) == ("-216", False)
    assert len(refreshes) == 1


async def test_the_refresh_goes_to_api_base_when_it_is_set() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path.endswith("/access_token"):
            return _answer({"access_token": "fresh", "refresh_token": "r2"})
        if request.headers["access_token"] != "fresh":
            return _answer({"error": -216, "message": "Access token is invalid"})
        return _answer({"error": 0, "message": "Success", "data": {"message_id": "m2"}})

    adapter = _adapter("http://emulator/zalo")
    async with _client(handler) as http:
        await adapter.send(adapter.build_request(_message(TEXT)), http)
    assert seen == [
        "http://emulator/zalo/v3.0/oa/message/cs",
        "http://emulator/zalo/v4/oa/access_token",
        "http://emulator/zalo/v3.0/oa/message/cs",
    ]


# -- signatures ------------------------------------------------------------------------------


def _event(**extra: Any) -> bytes:
    body = {
        "app_id": contract.APP_ID,
        "event_name": "user_send_text",
        "timestamp": "1718112000123",
        "sender": {"id": contract.USER_ID},
        "recipient": {"id": contract.OA_ID},
        "message": {"msg_id": "abc", "text": "hi"},
        **extra,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _webhook(body: bytes, headers: dict[str, str]) -> RawRequest:
    return RawRequest("POST", "http://gateway/inbound/ch_1", headers, {}, body)


def test_the_signature_covers_the_body_timestamp() -> None:
    adapter = _adapter()
    body = _event()
    headers = contract.sign(body)
    adapter.verify(_webhook(body, headers))
    # The same signature on a body with another timestamp is refused.
    with pytest.raises(SignatureError):
        adapter.verify(_webhook(_event(timestamp="1718112000124"), headers))


@pytest.mark.parametrize("value", ["", "mac=", "sha256=abc", "mac=" + "zz" * 32])
def test_a_malformed_signature_header_is_refused(value: str) -> None:
    with pytest.raises(SignatureError):
        _adapter().verify(_webhook(_event(), {"x-zevent-signature": value}))


def test_the_hex_digest_is_compared_whatever_its_case() -> None:
    body = _event()
    header = contract.sign(body)["x-zevent-signature"]
    _adapter().verify(_webhook(body, {"x-zevent-signature": "mac=" + header[4:].upper()}))


# -- media -----------------------------------------------------------------------------------


async def test_an_attachment_is_downloaded_from_its_cdn_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "access_token" not in request.headers
        return httpx.Response(200, content=b"%PDF-1.7", headers={"content-type": "application/pdf"})

    async with _client(handler) as http:
        found = await _adapter().fetch_media("https://f21-zfile.zdn.vn/1234/hoa-don.pdf", http)
    assert (found.content, found.mime_type, found.filename) == (
        b"%PDF-1.7",
        "application/pdf",
        "hoa-don.pdf",
    )


async def test_an_attachment_over_the_limit_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 100)

    async with _client(handler) as http:
        with pytest.raises(ProviderError) as refused:
            await _adapter().fetch_media("https://cdn.zadn.vn/a.jpg", http, max_bytes=10)
    assert (refused.value.code, refused.value.retryable) == ("media_too_large", False)


# -- documents: fetched, uploaded, then sent by token ---------------------------------------

LOCAL = "http://127.0.0.1:9"
PDF = b"%PDF-1.7\n% an invoice\n%%EOF\n"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
UPLOAD_PATH = "/v2.0/oa/upload/file"


def _document(url: str = f"{LOCAL}/files/invoice.pdf", **media: Any) -> dict[str, Any]:
    return {"type": "media", "media": {"url": url, "kind": "document", **media}}


def test_a_document_waits_for_its_upload() -> None:
    request = _adapter().build_request(_message(_document(filename="hoa-don.pdf")))
    assert request.url == f"{API}/v3.0/oa/message/cs"
    assert request.json == {
        "recipient": {"user_id": contract.USER_ID},
        "message": {"attachment": {"type": "file", "payload": {"token": FILE_TOKEN}}},
    }
    assert request.context == {FILE_URL: f"{LOCAL}/files/invoice.pdf", FILE_NAME: "hoa-don.pdf"}


@pytest.mark.parametrize(
    ("media", "feature"),
    [
        ({"url": "https://x.test/a.xlsx"}, cap.MEDIA_DOCUMENT),
        ({"url": "https://x.test/a", "filename": "notes.txt"}, cap.MEDIA_DOCUMENT),
        ({"url": "https://x.test/a.pdf", "mime_type": "text/csv"}, cap.MEDIA_DOCUMENT),
        ({"url": "https://x.test/a.pdf", "caption": "Hoá đơn"}, cap.MEDIA_CAPTION),
    ],
)
def test_what_zalo_would_not_take_as_a_file_is_refused_at_build(
    media: dict[str, Any], feature: str
) -> None:
    with pytest.raises(UnsupportedContent) as refused:
        _adapter().build_request(_message(_document(**media)))
    assert refused.value.feature == feature


@pytest.mark.parametrize(
    "media",
    [
        {"url": "https://x.test/download?id=1"},
        {"url": "https://x.test/a", "mime_type": DOCX},
        {"url": "https://x.test/a.bin", "filename": "Hợp đồng.DOC"},
    ],
)
def test_a_document_of_unknown_or_good_type_is_built(media: dict[str, Any]) -> None:
    request = _adapter().build_request(_message(_document(**media)))
    assert request.json["message"]["attachment"]["type"] == "file"


class _FileHost:
    """The customer's file host and a scripted Zalo: what each was asked."""

    def __init__(self, file: httpx.Response, upload: httpx.Response | None = None) -> None:
        self.file = file
        self.upload = upload
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if request.url.path.startswith("/files/"):
            return self.file
        if request.url.path == UPLOAD_PATH:
            return self.upload or _answer(
                {"error": 0, "message": "Success", "data": {"token": "zf-token-1"}}
            )
        return _answer({"error": 0, "message": "Success", "data": {"message_id": "file-1"}})


def _pdf(content: bytes = PDF, content_type: str = "application/pdf") -> httpx.Response:
    return httpx.Response(200, content=content, headers={"content-type": content_type})


async def test_a_document_is_fetched_uploaded_then_sent_by_token() -> None:
    adapter = _adapter(LOCAL)
    host = _FileHost(_pdf())
    request = adapter.build_request(_message(_document(filename="hoa-don.pdf")))
    async with _client(host) as http:
        result = await adapter.send(request, http)
    assert result.provider_message_id == "file-1"
    fetch, upload, send = host.calls
    assert (fetch.method, fetch.url.path) == ("GET", "/files/invoice.pdf")
    # The file's host never sees the token.
    assert "access_token" not in fetch.headers
    assert (upload.method, upload.url.path) == ("POST", UPLOAD_PATH)
    assert upload.headers["access_token"] == contract.ACCESS_TOKEN
    assert upload.headers["content-type"].startswith("multipart/form-data")
    form = upload.content
    assert b'name="file"; filename="hoa-don.pdf"' in form
    assert b"Content-Type: application/pdf" in form
    assert PDF in form
    assert send.url.path == "/v3.0/oa/message/cs"
    assert json.loads(send.content) == {
        "recipient": {"user_id": contract.USER_ID},
        "message": {"attachment": {"type": "file", "payload": {"token": "zf-token-1"}}},
    }


async def test_a_document_served_untyped_is_typed_by_its_name() -> None:
    adapter = _adapter(LOCAL)
    host = _FileHost(_pdf(content_type="application/octet-stream"))
    async with _client(host) as http:
        await adapter.send(adapter.build_request(_message(_document(filename="hoa-don"))), http)
    upload = host.calls[1]
    # Named by the URL's extension, since the file name has none: Zalo shows the name.
    assert b'filename="hoa-don.pdf"' in upload.content
    assert b"Content-Type: application/pdf" in upload.content


@pytest.mark.parametrize(
    ("file", "code"),
    [
        (_pdf(b"a,b\n", "text/csv"), "unsupported_media_type"),
        (_pdf(b"%PDF" + b"\x00" * MAX_FILE), "media_too_large"),
        (httpx.Response(302, headers={"location": "http://10.0.0.1/x.pdf"}), "media_redirected"),
        (httpx.Response(404), "media_unreachable"),
    ],
)
async def test_a_document_zalo_would_not_take_is_refused_before_upload(
    file: httpx.Response, code: str
) -> None:
    adapter = _adapter(LOCAL)
    host = _FileHost(file)
    async with _client(host) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_message(_document())), http)
    assert (refused.value.code, refused.value.retryable) == (code, False)
    assert [call.url.path for call in host.calls] == ["/files/invoice.pdf"]


async def test_a_document_at_a_private_address_is_not_fetched() -> None:
    adapter = _adapter()  # Zalo's own host: 127.0.0.1 is a stranger's
    # The gateway's own client: its connections go only where the network policy allows.
    async with guarded_client(NetworkPolicy(), timeout=httpx.Timeout(5.0)) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_message(_document())), http)
    assert (refused.value.code, refused.value.retryable) == ("address_refused", False)


@pytest.mark.parametrize(("code", "retryable"), [(-201, False), (-32, True)])
async def test_a_refused_upload_is_classified_and_nothing_is_sent(
    code: int, retryable: bool
) -> None:
    adapter = _adapter(LOCAL)
    host = _FileHost(_pdf(), _answer({"error": code, "message": "upload refused"}))
    async with _client(host) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_message(_document())), http)
    assert (refused.value.code, refused.value.retryable) == (str(code), retryable)
    assert [call.url.path for call in host.calls] == ["/files/invoice.pdf", UPLOAD_PATH]


async def test_an_upload_without_a_token_is_retryable() -> None:
    adapter = _adapter(LOCAL)
    host = _FileHost(_pdf(), _answer({"error": 0, "message": "Success", "data": {}}))
    async with _client(host) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_message(_document())), http)
    assert (refused.value.code, refused.value.retryable) == ("bad_response", True)


async def test_an_upload_on_an_expired_token_refreshes_then_uploads_again() -> None:
    adapter = _adapter(LOCAL)
    calls: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append((request.url.path, request.headers.get("access_token")))
        if request.url.path.startswith("/files/"):
            return _pdf()
        if request.url.path == "/v4/oa/access_token":
            return _answer({"access_token": "fresh-access", "refresh_token": "fresh-refresh"})
        if request.headers["access_token"] != "fresh-access":
            return _answer({"error": -216, "message": "Access token is invalid"})
        if request.url.path == UPLOAD_PATH:
            return _answer({"error": 0, "message": "Success", "data": {"token": "zf-2"}})
        return _answer({"error": 0, "message": "Success", "data": {"message_id": "file-2"}})

    async with _client(handler) as http:
        result = await adapter.send(adapter.build_request(_message(_document())), http)
    assert result.provider_message_id == "file-2"
    # The file is fetched once; only the calls to Zalo are made again.
    assert calls == [
        ("/files/invoice.pdf", None),
        (UPLOAD_PATH, contract.ACCESS_TOKEN),
        ("/v4/oa/access_token", None),
        (UPLOAD_PATH, "fresh-access"),
        ("/v3.0/oa/message/cs", "fresh-access"),
    ]
