"""The WhatsApp emulator judged by pywa, a WhatsApp Cloud API library (its asyncio client).

pywa's own HTTP client calls ``chatgate emulate`` on a loopback port (its calls to
graph.facebook.com carried there by the client's transport): every kind Chatgate sends is
sent through pywa's typed API and must reach the emulator as the body Chatgate's adapter
builds; the answers come back as pywa's types, refusals as its exceptions (its auth error
for a wrong token, its throttling errors for 130429, 80007 and 131056), media goes through
its upload, URL, download and delete calls, and the emulator's webhooks go to pywa's own
webhook server, which checks ``X-Hub-Signature-256`` and reads them into its updates.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pywa.types.base_update import BaseUpdate
from pywa.types.sent_update import RecipientType
from pywa_async import WhatsApp
from pywa_async.errors import (
    AuthorizationError,
    ExpiredAccessToken,
    InvalidParameter,
    MessageUndeliverable,
    RateLimitHit,
    RateLimitIssues,
    ReEngagementMessage,
    ThrottlingError,
    TooManyMessages,
    WhatsAppError,
)
from pywa_async.types import (
    Button,
    CallbackButton,
    CallbackSelection,
    Contact,
    Message,
    MessageStatus,
    MessageStatusType,
    MessageType,
    ProductsSection,
    RawUpdate,
    Section,
    SectionList,
    SectionRow,
    SentMessage,
    URLButton,
)
from pywa_async.types.templates import (
    BodyText,
    HeaderImage,
    HeaderText,
    QuickReplyButton,
    TemplateLanguage,
)
from pywa_async.types.templates import URLButton as TemplateURLButton

from tests.channels import contract as samples
from tests.channels.sdk import ServedEmulator, sendable_cases
from tests.channels.whatsapp import contract
from tests.support import served_in_this_loop, until

GRAPH_HOST = "graph.facebook.com"
USER = contract.RECIPIENT.lstrip("+")
STRANGER = "14155550999"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
PDF = b"%PDF-1.4\n" + b"0" * 64
MB = 1024 * 1024
# One emulator for the module: every test runs in the module's loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


class ToEmulator(httpx.AsyncHTTPTransport):
    """pywa's transport: its calls to graph.facebook.com go to the emulator's ``/graph``."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base = httpx.URL(base_url)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send the call to the emulator, or (already there: media URLs) as it is."""
        if request.url.host == GRAPH_HOST:
            request.url = request.url.copy_with(
                scheme=self.base.scheme,
                host=self.base.host,
                port=self.base.port,
                path="/graph" + request.url.path,
            )
            # The emulator builds its media URLs from the Host it was called on.
            request.headers["host"] = self.base.netloc.decode("ascii")
        assert request.url.host == "127.0.0.1", request.url
        return await super().handle_async_request(request)


@pytest_asyncio.fixture(loop_scope="module")
async def emulator(sdk_emulator: ServedEmulator) -> ServedEmulator:
    """The emulator afresh with the test number; the test user wrote (the window is open)."""
    await sdk_emulator.fresh()
    await sdk_emulator.register("whatsapp", contract.emulator_account(sdk_emulator.hook_url))
    await _user(sdk_emulator, text="Olá")
    sdk_emulator.catcher.requests.clear()
    return sdk_emulator


@pytest_asyncio.fixture(loop_scope="module")
async def wa(emulator: ServedEmulator) -> AsyncIterator[WhatsApp]:
    """pywa's client of the test number, calling the emulator."""
    async with _client(emulator) as client:
        yield client


@asynccontextmanager
async def _client(
    served: ServedEmulator, token: str = contract.ACCESS_TOKEN, **options: Any
) -> AsyncIterator[WhatsApp]:
    session = httpx.AsyncClient(transport=ToEmulator(served.base_url), timeout=10.0)
    try:
        yield WhatsApp(
            phone_id=contract.PHONE_NUMBER_ID,
            token=token,
            waba_id=contract.WABA_ID,
            session=session,
            **options,
        )
    finally:
        await session.aclose()


async def _user(served: ServedEmulator, **payload: Any) -> dict[str, Any]:
    answer, _ = await served.user(
        "whatsapp",
        phone_number_id=contract.PHONE_NUMBER_ID,
        **{"from": contract.RECIPIENT, **payload},
    )
    return answer


async def _last_call(served: ServedEmulator) -> dict[str, Any]:
    call: dict[str, Any] = (await served.received("whatsapp"))[-1]
    return call


def _as_meta_reads(value: Any) -> Any:
    """A body as Cloud API reads it: a null or an empty list as nothing, template component
    types and sub-types in either case (Meta's documents write them lower-case, pywa
    upper-case), and button indexes as numbers or strings."""
    if isinstance(value, dict):
        read = {}
        for key, item in value.items():
            if item is None or item == []:
                continue
            if key in ("type", "sub_type") and isinstance(item, str):
                item = item.lower()
            if key == "index":
                item = str(item)
            read[key] = _as_meta_reads(item)
        return read
    if isinstance(value, list):
        return [_as_meta_reads(item) for item in value]
    return value


# -- everything Chatgate sends, sent by pywa ---------------------------------------------------

Send = Callable[[WhatsApp, str], Awaitable[SentMessage]]


async def _api_send(
    wa: WhatsApp, typ: str, msg: dict[str, Any], tracker: str | None = None
) -> dict[str, Any]:
    """A message sent through pywa's API layer, which takes the type-named object as is."""
    answer: dict[str, Any] = await wa.api.send_message(
        sender=contract.PHONE_NUMBER_ID,
        to=USER,
        recipient=None,
        recipient_type="individual",
        typ=typ,
        msg=msg,
        biz_opaque_callback_data=tracker,
    )
    return answer


async def _send_address(wa: WhatsApp, tracker: str) -> SentMessage:
    """pywa has no typed call for an address message: its API layer sends the interactive
    object as Meta's address-message page prints it."""
    address = {
        "type": "address_message",
        "body": {"text": "Where should we deliver your order?"},
        "action": {
            "name": "address_message",
            "parameters": {"country": "IN", "values": {"name": "Asha Rao", "city": "Pune"}},
        },
    }
    return SentMessage.from_sent_update(
        client=wa,
        update=await _api_send(wa, "interactive", address, tracker),
        from_phone_id=contract.PHONE_NUMBER_ID,
        recipient_type=RecipientType.WA_ID,
    )


# Each case of the contract suite, said with pywa's typed API: (wa, tracker) -> its answer.
PYWA_SENDS: dict[str, Send] = {
    "text_emoji": lambda wa, tracker: wa.send_message(
        USER, "Hello 👋 café — ünïcödé ✓", tracker=tracker
    ),
    "text_preview": lambda wa, tracker: wa.send_message(
        USER, "See https://example.com", preview_url=True, tracker=tracker
    ),
    "image": lambda wa, tracker: wa.send_image(
        USER, "https://cdn.example.com/cat.jpg", caption="A cat 🐱", tracker=tracker
    ),
    "document": lambda wa, tracker: wa.send_document(
        USER,
        "https://cdn.example.com/files/invoice.pdf",
        filename="invoice-42.pdf",
        tracker=tracker,
    ),
    "video": lambda wa, tracker: wa.send_video(
        USER, "https://cdn.example.com/clip.mp4", tracker=tracker
    ),
    "audio": lambda wa, tracker: wa.send_audio(
        USER, "https://cdn.example.com/song.mp3", tracker=tracker
    ),
    "voice": lambda wa, tracker: wa.send_voice(
        USER, "https://cdn.example.com/note.ogg", tracker=tracker
    ),
    "template": lambda wa, tracker: wa.send_template(
        USER,
        name="order_update",
        language=TemplateLanguage.ENGLISH_US,
        params=[
            HeaderImage.params(image="https://cdn.example.com/banner.png"),
            BodyText.params("Ada", "#1042"),
            QuickReplyButton.params(callback_data="TRACK_1042", index=0),
        ],
        tracker=tracker,
    ),
    "template_named": lambda wa, tracker: wa.send_template(
        USER,
        name="welcome",
        language=TemplateLanguage.PORTUGUESE_BR,
        params=[
            HeaderText.params("Olá"),
            BodyText.params(first_name="Ada"),
            TemplateURLButton.params(url_variable="orders/1042", index=1),
        ],
        tracker=tracker,
    ),
    "buttons_reply": lambda wa, tracker: wa.send_message(
        USER,
        "Did it arrive? 📦",
        header="Your order",
        footer="Reply any time",
        buttons=[Button("Yes", callback_data="yes"), Button("No", callback_data="no")],
        tracker=tracker,
    ),
    "buttons_url": lambda wa, tracker: wa.send_message(
        USER,
        "Track your parcel",
        buttons=URLButton(title="Track", url="https://example.com/t/1042"),
        tracker=tracker,
    ),
    "quick_replies": lambda wa, tracker: wa.send_message(
        USER,
        "Pick a size",
        buttons=[Button("Small", "s"), Button("Medium", "m"), Button("Large", "l")],
        tracker=tracker,
    ),
    "list": lambda wa, tracker: wa.send_message(
        USER,
        "Choose a delivery slot",
        buttons=SectionList(
            button_title="Slots",
            sections=[
                Section(
                    title="Tomorrow",
                    rows=[
                        SectionRow("Morning", callback_data="am", description="8–12"),
                        SectionRow("Afternoon", callback_data="pm"),
                    ],
                )
            ],
        ),
        tracker=tracker,
    ),
    "product": lambda wa, tracker: wa.send_product(
        USER,
        catalog_id="194836987003835",
        sku="MUG-BLUE-01",
        body="Back in stock ☕",
        footer="Free delivery over €30",
        tracker=tracker,
    ),
    "product_list": lambda wa, tracker: wa.send_products(
        USER,
        catalog_id="194836987003835",
        product_sections=[
            ProductsSection(title="Blue", skus=["MUG-BLUE-01", "MUG-BLUE-02"]),
            ProductsSection(title="Red", skus=["MUG-RED-01"]),
        ],
        title="Our mugs",
        body="Pick one or two",
        tracker=tracker,
    ),
    "address": lambda wa, tracker: _send_address(wa, tracker),
    "location": lambda wa, tracker: wa.send_location(
        USER, 48.8584, 2.2945, name="Tour Eiffel", address="Champ de Mars, Paris", tracker=tracker
    ),
    "contact": lambda wa, tracker: wa.send_contact(
        USER,
        Contact(
            name=Contact.Name(
                formatted_name="Ada Lovelace", first_name="Ada", last_name="Lovelace"
            ),
            phones=[Contact.Phone(phone="+447700900123")],
            emails=[Contact.Email(email="ada@example.com")],
            org=Contact.Org(company="Analytical Engines"),
        ),
        tracker=tracker,
    ),
    "reaction": lambda wa, tracker: wa.send_reaction(
        USER, "👍", samples.PLATFORM_MESSAGE_ID, tracker=tracker
    ),
    "reply_to_text": lambda wa, tracker: wa.send_message(
        USER,
        "Hello 👋 café — ünïcödé ✓",
        reply_to_message_id=samples.PLATFORM_MESSAGE_ID,
        tracker=tracker,
    ),
}


@pytest.mark.parametrize(
    "case", sendable_cases(contract.make_adapter("http://emulator/graph"), contract.RECIPIENT)
)
async def test_every_kind_chatgate_sends_is_sent_by_pywa_as_chatgate_builds_it(
    emulator: ServedEmulator, wa: WhatsApp, case: str
) -> None:
    adapter = contract.make_adapter(f"{emulator.base_url}/graph")
    built = adapter.build_request(samples.outbound(case, contract.RECIPIENT)).json
    assert built is not None
    sent = await PYWA_SENDS[case](wa, built["biz_opaque_callback_data"])
    assert sent.id.startswith("wamid.")
    assert (sent.chat.id, sent.input, sent.from_phone_id) == (USER, USER, contract.PHONE_NUMBER_ID)
    call = await _last_call(emulator)
    assert (call["status"], call["message_id"]) == (200, sent.id)
    # What pywa sent is what Chatgate's adapter builds, as Cloud API reads them.
    assert _as_meta_reads(call["body"]) == _as_meta_reads(built)


async def test_read_receipts_and_the_typing_indicator(
    emulator: ServedEmulator, wa: WhatsApp
) -> None:
    answer = await _user(emulator, text="Are you there?")
    assert (await wa.mark_message_as_read(answer["id"])).success is True
    assert (await wa.indicate_typing(answer["id"])).success is True
    call = await _last_call(emulator)
    assert call["body"]["typing_indicator"] == {"type": "text"}


async def test_coordinates_as_strings_go_through_pywas_api(
    emulator: ServedEmulator, wa: WhatsApp
) -> None:
    # Meta documents latitude and longitude as strings; pywa's own API layer sends them so.
    answer = await _api_send(
        wa, "location", {"latitude": "38.7223", "longitude": "-9.1393", "name": "Baixa"}
    )
    assert answer["messages"][0]["id"].startswith("wamid.")
    with pytest.raises(InvalidParameter) as refused:
        await _api_send(wa, "location", {"latitude": "north", "longitude": "-9.1393"})
    assert refused.value.details == "location['latitude'] must be a number in decimal degrees"


# -- media ---------------------------------------------------------------------------------


async def test_media_pywa_uploads_is_described_downloaded_sent_by_id_and_deleted(
    emulator: ServedEmulator, wa: WhatsApp
) -> None:
    uploaded = await wa.upload_media(PNG, mime_type="image/png", filename="receipt.png")
    assert uploaded.id.isdigit()
    described = await wa.get_media_url(uploaded.id)
    assert (described.id, described.mime_type, described.file_size) == (
        uploaded.id,
        "image/png",
        len(PNG),
    )
    assert await wa.get_media_bytes(described.url) == PNG
    sent = await wa.send_image(USER, uploaded.id, caption="Recibo")
    assert (await _last_call(emulator))["body"]["image"] == {"id": uploaded.id, "caption": "Recibo"}
    assert sent.id.startswith("wamid.")
    # Bytes given to a send are uploaded by pywa first, then sent by id.
    document = await wa.send_document(
        USER, PDF, filename="invoice.pdf", mime_type="application/pdf"
    )
    assert document.uploaded_media is not None
    upload, send = (await emulator.received("whatsapp"))[-2:]
    assert upload["body"]["file"] == {
        "filename": "invoice.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
    }
    assert send["body"]["document"]["id"] == upload["body"]["id"]
    assert (await wa.delete_media(uploaded.id)).success is True
    with pytest.raises(WhatsAppError) as gone:
        await wa.get_media_url(uploaded.id)
    assert (gone.value.code, gone.value.subcode, gone.value.type) == (
        100,
        33,
        "GraphMethodException",
    )


async def test_uploads_cloud_api_refuses_raise_pywas_error(wa: WhatsApp) -> None:
    with pytest.raises(WhatsAppError) as wrong_type:
        await wa.upload_media(b"PK\x03\x04", mime_type="application/zip", filename="a.zip")
    assert (wrong_type.value.code, wrong_type.value.status_code) == (100, 400)
    assert wrong_type.value.message.endswith("Received file of type 'application/zip'.")
    with pytest.raises(WhatsAppError) as too_large:
        await wa.upload_media(b"\xff" * (5 * MB + 1), mime_type="image/jpeg", filename="big.jpg")
    assert (too_large.value.code, too_large.value.user_title) == (100, "File Too Large")


async def test_a_file_a_user_sent_downloads_through_pywa(
    emulator: ServedEmulator, wa: WhatsApp
) -> None:
    media = {
        "kind": "document",
        "content_base64": base64.b64encode(PDF).decode(),
        "mime_type": "application/pdf",
        "filename": "invoice.pdf",
    }
    answer = await _user(emulator, media=media)
    described = await wa.get_media_url(answer["media_id"])
    assert (described.mime_type, described.file_size) == ("application/pdf", len(PDF))
    assert await wa.get_media_bytes(described.url) == PDF


# -- errors, as pywa raises them --------------------------------------------------------------


async def test_a_wrong_token_raises_pywas_auth_error(emulator: ServedEmulator) -> None:
    async with _client(emulator, token="EAAJB-not-the-token") as stranger:
        with pytest.raises(ExpiredAccessToken) as refused:
            await stranger.send_message(USER, "Hello")
        with pytest.raises(AuthorizationError):
            await stranger.upload_media(PNG, mime_type="image/png", filename="a.png")
    assert (refused.value.code, refused.value.status_code) == (190, 401)


@pytest.mark.parametrize(
    ("code", "error"),
    [(None, RateLimitHit), (80007, RateLimitIssues), (131056, TooManyMessages)],
)
async def test_throttling_raises_pywas_rate_limit_errors(
    emulator: ServedEmulator, wa: WhatsApp, code: int | None, error: type[ThrottlingError]
) -> None:
    fault: dict[str, Any] = {"kind": "rate_limit", "retry_after": 150}
    if code is not None:
        fault["code"] = code
    await emulator.fault("whatsapp", **fault)
    with pytest.raises(ThrottlingError) as throttled:
        await wa.send_message(USER, "Hello")
    assert type(throttled.value) is error
    response = throttled.value.raw_response
    assert response is not None
    usage = json.loads(response.headers["x-business-use-case-usage"])
    assert usage[contract.WABA_ID][0]["estimated_time_to_regain_access"] == 3
    # The fault was used up.
    assert (await wa.send_message(USER, "Hello again")).id.startswith("wamid.")


async def test_values_out_of_bounds_raise_pywas_invalid_parameter(wa: WhatsApp) -> None:
    with pytest.raises(InvalidParameter) as too_long:
        await wa.send_message(USER, "x" * 4097)
    assert too_long.value.details == "text['body'] must be at most 4096 characters long"
    with pytest.raises(InvalidParameter):
        await wa.send_message(USER, "Pick", buttons=[Button(f"B{i}", str(i)) for i in range(4)])


# -- webhooks, received by pywa's own webhook server ------------------------------------------


@dataclass
class Inbox:
    """Where pywa's webhook server listens, and what its handlers were given: its typed
    updates and every raw update."""

    url: str = ""
    updates: list[BaseUpdate] = field(default_factory=list)
    raw: list[RawUpdate] = field(default_factory=list)

    async def after(self, count: int) -> list[BaseUpdate]:
        """The typed updates, once pywa handled ``count`` webhooks."""

        async def handled() -> bool:
            return len(self.raw) >= count

        await until(handled, limit=5.0)
        return list(self.updates)


@asynccontextmanager
async def pywa_webhook(
    served: ServedEmulator, app_secret: str = contract.APP_SECRET
) -> AsyncIterator[Inbox]:
    """pywa's webhook routes on a loopback server, checking signatures with ``app_secret``;
    the test number's webhooks (from the emulator's app secret) go there."""
    app = FastAPI()
    inbox = Inbox()
    async with _client(
        served,
        server=app,
        webhook_endpoint="/whatsapp",
        verify_token=contract.VERIFY_TOKEN,
        app_secret=app_secret,
    ) as client:

        async def keep(_: WhatsApp, update: BaseUpdate) -> None:
            inbox.updates.append(update)

        async def keep_raw(_: WhatsApp, update: RawUpdate) -> None:
            inbox.raw.append(update)

        for register in (
            client.on_message,
            client.on_callback_button,
            client.on_callback_selection,
            client.on_message_status,
        ):
            register()(keep)
        client.on_raw_update()(keep_raw)
        async with served_in_this_loop(app) as base_url:
            inbox.url = f"{base_url}/whatsapp"
            await served.register("whatsapp", contract.emulator_account(inbox.url))
            yield inbox


async def _writes(served: ServedEmulator, **payload: Any) -> dict[str, Any]:
    """A user writes; the webhook goes wherever the number's webhook URL is."""
    body = {"phone_number_id": contract.PHONE_NUMBER_ID, "from": contract.RECIPIENT, **payload}
    response = await served.control.post("/_emulator/whatsapp/inbound", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _deliveries(served: ServedEmulator, inbox: Inbox) -> list[dict[str, Any]]:
    """The webhooks the emulator sent to pywa's server, with pywa's answers."""
    found: list[dict[str, Any]] = (await served.control.get("/_emulator/deliveries")).json()
    return [delivery for delivery in found if delivery["url"] == inbox.url]


async def test_pywas_server_refuses_a_webhook_signed_with_another_secret(
    emulator: ServedEmulator,
) -> None:
    async with pywa_webhook(emulator, app_secret="pywa-expects-another-secret") as inbox:
        await _writes(emulator, text="hello")
        [delivery] = await _deliveries(emulator, inbox)
    assert (delivery["status"], inbox.raw) == (403, [])


async def test_pywas_server_accepts_the_emulators_signature(emulator: ServedEmulator) -> None:
    async with pywa_webhook(emulator) as inbox:
        answer = await _writes(emulator, text="hello")
        await inbox.after(1)
        [delivery] = await _deliveries(emulator, inbox)
    assert delivery["status"] == 200
    [update] = inbox.raw
    assert (update.id, update.field) == (contract.WABA_ID, "messages")
    assert update.value["messages"][0]["id"] == answer["id"]


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ({"text": "Where is my parcel?"}, MessageType.TEXT),
        (
            {"location": {"latitude": "38.7223", "longitude": -9.1393, "name": "Baixa"}},
            MessageType.LOCATION,
        ),
        ({"reaction": {"message_id": "wamid.earlier", "emoji": "👍"}}, MessageType.REACTION),
        (
            {"contacts": [{"name": {"formatted_name": "Ada"}, "phones": [{"phone": "+1555"}]}]},
            MessageType.CONTACTS,
        ),
        (
            {"media": {"kind": "image", "content_base64": base64.b64encode(PNG).decode()}},
            MessageType.IMAGE,
        ),
    ],
)
async def test_a_users_messages_are_read_into_pywas_message(
    emulator: ServedEmulator, action: dict[str, Any], kind: MessageType
) -> None:
    async with pywa_webhook(emulator) as inbox:
        answer = await _writes(emulator, name="Zoë", **action)
        [message] = await inbox.after(1)
        assert isinstance(message, Message)
        if kind is MessageType.IMAGE:
            assert message.image is not None
            assert await message.image.get_bytes() == PNG
    assert (message.id, message.type, message.from_user.wa_id) == (answer["id"], kind, USER)
    assert message.from_user.name == "Zoë"
    if kind is MessageType.LOCATION:
        assert message.location is not None
        assert (message.location.latitude, message.location.longitude) == (38.7223, -9.1393)


async def test_taps_on_buttons_and_list_rows_are_pywas_callbacks(
    emulator: ServedEmulator, wa: WhatsApp
) -> None:
    question = await wa.send_message(USER, "Did it arrive?", buttons=[Button("Yes", "yes")])
    async with pywa_webhook(emulator) as inbox:
        await _writes(emulator, reply={"kind": "button_reply", "id": "yes", "title": "Yes"})
        await _writes(emulator, reply={"kind": "list_reply", "id": "am", "title": "Morning"})
        await _writes(emulator, reply={"kind": "button", "id": "TRACK_1042", "title": "Track"})
        button, row, template_button = await inbox.after(3)
    assert isinstance(button, CallbackButton)
    assert (button.data, button.title, button.is_quick_reply) == ("yes", "Yes", False)
    assert isinstance(row, CallbackSelection)
    assert (row.data, row.title) == ("am", "Morning")
    assert isinstance(template_button, CallbackButton)
    assert (template_button.data, template_button.is_quick_reply) == ("TRACK_1042", True)
    # Each tap answers the message that carried the buttons, as Cloud API tells.
    for tap in (button, row, template_button):
        assert tap.reply_to_message is not None
        assert tap.reply_to_message.id == question.id


async def test_a_username_only_user_is_pywas_user_and_answered_by_bsuid(
    emulator: ServedEmulator, wa: WhatsApp
) -> None:
    async with pywa_webhook(emulator) as inbox:
        await emulator.timing(sent_after=0.0, delivered_after=0.05, read_after=None)
        written = await _writes(emulator, **{"from": None}, username="zoe.s", text="oi")
        [message] = await inbox.after(1)
        assert isinstance(message, Message)
        user = message.from_user
        assert (user.bsuid, user.wa_id, user.username) == (written["user_id"], None, "zoe.s")
        # pywa answers a user by BSUID with the Messages API's recipient field.
        sent = await wa.send_message(user.bsuid, "Olá 👋", tracker="msg_01BSUID")
        # The message, then its sent and delivered statuses.
        statuses = await inbox.after(3)
    assert sent.input == written["user_id"]
    call = await _last_call(emulator)
    assert (call["body"]["recipient"], "to" in call["body"]) == (written["user_id"], False)
    delivered = [s for s in statuses if isinstance(s, MessageStatus) and s.id == sent.id]
    assert [s.status for s in delivered] == [MessageStatusType.SENT, MessageStatusType.DELIVERED]
    assert delivered[-1].from_user.username == "zoe.s"
    assert all(s.from_user.bsuid == written["user_id"] for s in delivered)


async def test_statuses_are_pywas_message_statuses(emulator: ServedEmulator, wa: WhatsApp) -> None:
    async with pywa_webhook(emulator) as inbox:
        await emulator.timing(sent_after=0.0, delivered_after=0.05, read_after=0.1)
        sent = await wa.send_message(USER, "Your parcel left", tracker="msg_01PYWA")
        statuses = await inbox.after(3)
    assert all(isinstance(status, MessageStatus) for status in statuses)
    assert [(s.id, s.status, s.tracker) for s in statuses if isinstance(s, MessageStatus)] == [
        (sent.id, MessageStatusType.SENT, "msg_01PYWA"),
        (sent.id, MessageStatusType.DELIVERED, "msg_01PYWA"),
        (sent.id, MessageStatusType.READ, "msg_01PYWA"),
    ]


async def test_failures_reported_later_are_pywas_errors(
    emulator: ServedEmulator, wa: WhatsApp
) -> None:
    async with pywa_webhook(emulator) as inbox:
        await emulator.timing(sent_after=0.0, delivered_after=None, read_after=None)
        await emulator.fault("whatsapp", kind="invalid_recipient")
        lost = await wa.send_message(USER, "Anyone there?")
        stranger = await wa.send_message(STRANGER, "Hello, stranger")
        updates = await inbox.after(2)
    failures = {
        update.id: update.error
        for update in updates
        if isinstance(update, MessageStatus) and update.status is MessageStatusType.FAILED
    }
    assert isinstance(failures[lost.id], MessageUndeliverable)
    assert isinstance(failures[stranger.id], ReEngagementMessage)
