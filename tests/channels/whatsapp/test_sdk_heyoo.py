"""The WhatsApp emulator judged by heyoo, a small blocking Cloud API wrapper (requests).

heyoo sends what its documentation shows (location coordinates as strings, captions as
nulls, media uploaded as a requests-toolbelt multipart form) to ``chatgate emulate`` on a
loopback port, and its webhook helpers read the emulator's webhooks. heyoo raises no errors
of its own: a refused call comes back as Graph's error body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from heyoo import WhatsApp

from tests.channels.sdk import ServedEmulator, blocking
from tests.channels.whatsapp import contract

USER = contract.RECIPIENT.lstrip("+")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))

# One emulator for the module: every test runs in the module's loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def emulator(sdk_emulator: ServedEmulator) -> ServedEmulator:
    """The emulator afresh with the test number; the test user wrote (the window is open)."""
    await sdk_emulator.fresh()
    await sdk_emulator.register("whatsapp", contract.emulator_account(sdk_emulator.hook_url))
    await _user(sdk_emulator, text="Olá")
    sdk_emulator.catcher.requests.clear()
    return sdk_emulator


def _heyoo(served: ServedEmulator, token: str = contract.ACCESS_TOKEN) -> WhatsApp:
    """heyoo's client of the test number; it names graph.facebook.com in plain attributes,
    pointed here at the emulator's ``/graph``."""
    client = WhatsApp(token, contract.PHONE_NUMBER_ID)
    client.base_url = f"{served.base_url}/graph/v14.0"
    client.v15_base_url = f"{served.base_url}/graph/v15.0"
    client.url = f"{client.base_url}/{contract.PHONE_NUMBER_ID}/messages"
    return client


async def _user(served: ServedEmulator, **payload: Any) -> dict[str, Any]:
    """A user writes; the webhook's body, as JSON."""
    _, hook = await served.user(
        "whatsapp",
        phone_number_id=contract.PHONE_NUMBER_ID,
        **{"from": contract.RECIPIENT, **payload},
    )
    body: dict[str, Any] = json.loads(hook.body)
    return body


LIST = {
    "header": "Delivery",
    "body": "Choose a slot",
    "footer": "Any time",
    "action": {
        "button": "Slots",
        "sections": [{"title": "Tomorrow", "rows": [{"id": "am", "title": "Morning"}]}],
    },
}
REPLY_BUTTONS = {
    "type": "button",
    "body": {"text": "Did it arrive?"},
    "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]},
}
CONTACT = {
    "name": {"formatted_name": "Ada Lovelace", "first_name": "Ada"},
    "phones": [{"phone": "+447700900123", "type": "CELL"}],
}
TEMPLATE_BODY = [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}]

# Every send heyoo makes, as its documentation writes it.
HEYOO_SENDS: dict[str, Callable[[WhatsApp], dict[str, Any]]] = {
    "text": lambda client: client.send_message("Hello 👋 https://example.com", USER),
    "reply": lambda client: client.reply_to_message("wamid.earlier", USER, "Yes, it is"),
    "reaction": lambda client: client.send_reaction("👍", "wamid.earlier", USER),
    "template": lambda client: client.send_template("order_update", USER, TEMPLATE_BODY),
    "location": lambda client: client.send_location(
        "-23.564", "-46.654", "My Location", "Rua dois, 123", USER
    ),
    "image": lambda client: client.send_image("https://cdn.example.com/cat.jpg", USER),
    "sticker": lambda client: client.send_sticker("https://cdn.example.com/s.webp", USER),
    "audio": lambda client: client.send_audio("https://cdn.example.com/song.mp3", USER),
    "video": lambda client: client.send_video("https://cdn.example.com/clip.mp4", USER),
    "document": lambda client: client.send_document(
        "https://cdn.example.com/invoice.pdf", USER, filename="invoice.pdf"
    ),
    "contacts": lambda client: client.send_contacts([CONTACT], USER),
    "list": lambda client: client.send_button(LIST, USER),
    "reply_buttons": lambda client: client.send_reply_button(REPLY_BUTTONS, USER),
}


@pytest.mark.parametrize("kind", list(HEYOO_SENDS))
async def test_every_send_heyoo_makes_is_accepted(emulator: ServedEmulator, kind: str) -> None:
    answer = await blocking(HEYOO_SENDS[kind], _heyoo(emulator))
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": USER, "wa_id": USER}]
    [message] = answer["messages"]
    assert message["id"].startswith("wamid.")
    [call] = await emulator.received("whatsapp")
    assert (call["status"], call["message_id"]) == (200, message["id"])


async def test_heyoo_marks_a_message_read(emulator: ServedEmulator) -> None:
    hook = await _user(emulator, text="Are you there?")
    client = _heyoo(emulator)
    message_id = client.get_message_id(hook)
    assert await blocking(client.mark_as_read, message_id) == {"success": True}


async def test_heyoo_uploads_sends_queries_downloads_and_deletes_media(
    emulator: ServedEmulator, tmp_path: Path
) -> None:
    client = _heyoo(emulator)
    picture = tmp_path / "receipt.png"
    picture.write_bytes(PNG)
    uploaded = await blocking(client.upload_media, str(picture))
    assert uploaded is not None
    media_id = uploaded["id"]
    sent = await blocking(client.send_image, media_id, USER, caption="Recibo", link=False)
    assert sent["messages"][0]["id"].startswith("wamid.")
    url = await blocking(client.query_media_url, media_id)
    assert url is not None
    saved = await blocking(client.download_media, url, "image/png", str(tmp_path / "copy"))
    assert await blocking(Path(saved).read_bytes) == PNG
    assert await blocking(client.delete_media, media_id) == {"success": True}
    assert await blocking(client.query_media_url, media_id) is None
    upload, *_ = await emulator.received("whatsapp")
    assert upload["body"]["file"] == {
        "filename": str(picture),
        "content_type": "image/png",
        "size": len(PNG),
    }


async def test_an_upload_of_a_type_whatsapp_does_not_take_fails(
    emulator: ServedEmulator, tmp_path: Path
) -> None:
    archive = tmp_path / "photos.zip"
    archive.write_bytes(b"PK\x03\x04")
    assert await blocking(_heyoo(emulator).upload_media, str(archive)) is None
    [call] = await emulator.received("whatsapp")
    assert (call["status"], call["body"]["file"]["content_type"]) == (400, "application/zip")


async def test_a_wrong_token_comes_back_as_graphs_error(emulator: ServedEmulator) -> None:
    answer = await blocking(_heyoo(emulator, "EAAJB-not-the-token").send_message, "Hi", USER)
    assert answer["error"]["code"] == 190
    assert answer["error"]["type"] == "OAuthException"


async def test_heyoos_helpers_read_the_emulators_webhooks(emulator: ServedEmulator) -> None:
    client = _heyoo(emulator)
    text = await _user(emulator, text="Where is my parcel?", name="Zoë")
    assert client.changed_field(text) == "messages"
    assert client.is_message(text)
    assert (client.get_mobile(text), client.get_name(text)) == (USER, "Zoë")
    assert (client.get_message_type(text), client.get_message(text)) == (
        "text",
        "Where is my parcel?",
    )
    place = await _user(emulator, location={"latitude": "-23.564", "longitude": -46.654})
    assert client.get_location(place) == {"latitude": -23.564, "longitude": -46.654}
    tap = await _user(emulator, reply={"kind": "list_reply", "id": "am", "title": "Morning"})
    assert client.get_interactive_response(tap) == {
        "type": "list_reply",
        "list_reply": {"id": "am", "title": "Morning"},
    }
    image = await _user(emulator, media={"kind": "image", "content_base64": "iVBORw0KGgo="})
    described = client.get_image(image)
    assert described is not None
    url = await blocking(client.query_media_url, described["id"])
    assert url is not None
    await emulator.timing(sent_after=0.0, delivered_after=None, read_after=None)
    count = len(emulator.catcher.requests)
    await blocking(client.send_message, "On its way", USER)
    status = json.loads((await emulator.webhook(count)).body)
    assert not client.is_message(status)
    assert client.get_delivery(status) == "sent"
