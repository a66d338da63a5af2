"""The emulated driver against the fake WhatsApp Web of ``chatgate emulate``."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from chatgate.channels.device_driver import (
    Connected,
    Disconnected,
    DriverError,
    IncomingMessage,
    LoggedOut,
    Outgoing,
    QrCode,
    Receipt,
)
from chatgate.channels.whatsapp_web_emulated import EmulatedWebDriver
from tests.channels.whatsapp_web.support import (
    CONTROL,
    PHONE,
    driver,
    emulator_client,
    scan,
    take,
)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async for made in emulator_client():
        yield made


async def _paired(client: httpx.AsyncClient) -> tuple[EmulatedWebDriver, str]:
    """A driver connected through a fresh pairing, and its device state."""
    device = driver(client)
    await device.start(None)
    stream = device.events()
    assert isinstance((await take(stream))[0], QrCode)
    await scan(client)
    connected = (await take(stream))[0]
    assert isinstance(connected, Connected)
    assert connected.device_state is not None
    return device, connected.device_state


async def test_qr_codes_rotate_until_scanned_then_connected(client: httpx.AsyncClient) -> None:
    device = driver(client)
    await device.start(None)
    stream = device.events()
    first, second = await take(stream, 2)
    assert isinstance(first, QrCode)
    assert isinstance(second, QrCode)
    assert first.code != second.code
    shown = (await client.get(f"{CONTROL}/qr")).json()
    # The emulator shows the newest code (or a newer one, if it rotated since).
    assert shown
    assert shown[0]["code"] != first.code
    await scan(client)
    connected = (await take(stream))[0]
    while isinstance(connected, QrCode):  # codes shown before the scan
        connected = (await take(stream))[0]
    assert isinstance(connected, Connected)
    assert (connected.phone, connected.name) == (PHONE, "Ada")
    assert connected.jid == "237612345678:1@s.whatsapp.net"
    assert connected.device_state
    await device.stop()
    assert (await client.get(f"{CONTROL}/qr")).json() == []


async def test_pairing_ends_after_the_last_code(client: httpx.AsyncClient) -> None:
    await client.put(f"{CONTROL}/settings", json={"qr_interval": 0.01, "qr_limit": 2})
    device = driver(client)
    await device.start(None)
    events = await take(device.events(), 3)
    assert [type(e) for e in events] == [QrCode, QrCode, Disconnected]
    assert events[-1] == Disconnected("qr_timeout")


async def test_a_paired_device_resumes_without_a_qr(client: httpx.AsyncClient) -> None:
    device, state = await _paired(client)
    await device.stop()
    again = driver(client)
    await again.start(state)
    resumed = (await take(again.events()))[0]
    assert resumed == Connected("237612345678:1@s.whatsapp.net", PHONE, "Ada", None)


async def test_sends_are_received_and_acknowledged_to_read(client: httpx.AsyncClient) -> None:
    device, _ = await _paired(client)
    stream = device.events()
    voice = Outgoing(
        to="+237699000111",
        kind="audio",
        extra={"ptt": True, "mime_type": "audio/ogg; codecs=opus"},
        media=b"OggS voice",
    )
    message_id = await device.send(voice)
    receipts = await take(stream, 3)
    assert receipts == [Receipt(message_id, s) for s in ("sent", "delivered", "read")]
    received = (await client.get(f"{CONTROL}/received")).json()
    assert [(r["recipient"], r["body"]["kind"], r["message_id"]) for r in received] == [
        ("+237699000111", "audio", message_id)
    ]
    # The file travels whole; the control API shows its size and digest, not its bytes.
    body = received[0]["body"]
    assert (body["ptt"], body["media"]["size"], "content_base64" in body) == (True, 10, False)


async def test_the_platform_refuses_what_is_not_one_of_its_kinds(
    client: httpx.AsyncClient,
) -> None:
    device, _ = await _paired(client)
    refusals = {
        "sticker": Outgoing(to="+1555", kind="sticker", text="x"),  # type: ignore[arg-type]
        "document without a filename": Outgoing(
            to="+1555", kind="document", extra={"mime_type": "application/pdf"}, media=b"%PDF"
        ),
        "a voice note that is not audio": Outgoing(
            to="+1555", kind="image", extra={"mime_type": "image/png", "ptt": True}, media=b"x"
        ),
        "an image of another type": Outgoing(
            to="+1555", kind="image", extra={"mime_type": "video/mp4"}, media=b"x"
        ),
        "a contact that is no vCard": Outgoing(
            to="+1555", kind="contact", extra={"contacts": ["Ada +1555"]}
        ),
    }
    for case, outgoing in refusals.items():
        with pytest.raises(DriverError) as refused:
            await device.send(outgoing)
        assert (refused.value.code, refused.value.retryable) == ("bad_request", False), case
    assert (await client.get(f"{CONTROL}/received")).json() == []


async def test_an_inbound_file_is_downloaded_through_the_driver(client: httpx.AsyncClient) -> None:
    device, _ = await _paired(client)
    stream = device.events()
    inbound = {
        "phone": PHONE,
        "from": "+237699000111",
        "kind": "voice",
        "content_base64": base64.b64encode(b"OggS hello").decode(),
    }
    assert (await client.post(f"{CONTROL}/inbound", json=inbound)).is_success
    (message,) = await take(stream)
    assert isinstance(message, IncomingMessage)
    assert message.media_id is not None
    assert await device.download(message.media_id) == b"OggS hello"
    with pytest.raises(DriverError) as missing:
        await device.download("media_nothing")
    assert (missing.value.code, missing.value.retryable) == ("media_not_found", False)


async def test_a_refused_send_says_why(client: httpx.AsyncClient) -> None:
    device = driver(client)
    await device.start(None)
    with pytest.raises(DriverError) as refused_early:
        await device.send(Outgoing(to="+1", kind="text", text="hi"))
    assert refused_early.value.code == "not_connected"
    stream = device.events()
    await take(stream)
    await scan(client)
    await take(stream)
    fault = {"kind": "invalid_recipient", "recipient": "+237600000000"}
    assert (await client.post(f"{CONTROL}/faults", json=fault)).status_code == 201
    with pytest.raises(DriverError) as refused:
        await device.send(Outgoing(to="+237600000000", kind="text", text="hi"))
    assert (refused.value.code, refused.value.retryable) == ("not_on_whatsapp", False)


async def test_inbound_text_media_and_voice_notes(client: httpx.AsyncClient) -> None:
    device, _ = await _paired(client)
    stream = device.events()
    audio = base64.b64encode(b"OggS-voice").decode()
    for payload in (
        {"kind": "text", "text": "hello"},
        {"kind": "voice", "content_base64": audio},
        {"kind": "image", "mime_type": "image/png", "caption": "look"},
    ):
        sent = await client.post(
            f"{CONTROL}/inbound", json={"phone": PHONE, "from": "+237677000000", **payload}
        )
        assert sent.status_code == 200, sent.text
    text, voice, image = await take(stream, 3)
    assert isinstance(text, IncomingMessage)
    assert (text.kind, text.text, text.sender) == ("text", "hello", "+237677000000")
    assert isinstance(voice, IncomingMessage)
    assert (voice.kind, voice.mime_type) == ("voice", "audio/ogg; codecs=opus")
    media = await client.get(f"/whatsapp-web/media/{voice.media_id}")
    assert media.content == b"OggS-voice"
    assert isinstance(image, IncomingMessage)
    assert (image.kind, image.caption, image.mime_type) == ("image", "look", "image/png")
    refused = await client.post(
        f"{CONTROL}/inbound", json={"phone": PHONE, "from": "+1", "kind": "sticker"}
    )
    assert refused.status_code == 422


async def test_a_drop_disconnects_and_messages_wait_for_the_device(
    client: httpx.AsyncClient,
) -> None:
    device, state = await _paired(client)
    stream = device.events()
    assert (await client.post(f"{CONTROL}/drop", json={"phone": PHONE})).json() == {"dropped": 1}
    assert await take(stream) == [Disconnected("connection_lost")]
    inbound = {"phone": PHONE, "from": "+237677000000", "text": "while away"}
    assert (await client.post(f"{CONTROL}/inbound", json=inbound)).status_code == 200
    again = driver(client)
    await again.start(state)
    resumed, waiting = await take(again.events(), 2)
    assert isinstance(resumed, Connected)
    assert isinstance(waiting, IncomingMessage)
    assert waiting.text == "while away"


async def test_logout_from_the_phone_unlinks_the_device(client: httpx.AsyncClient) -> None:
    device, state = await _paired(client)
    stream = device.events()
    assert (await client.post(f"{CONTROL}/logout", json={"phone": PHONE})).json() == {"closed": 1}
    assert await take(stream) == [LoggedOut()]
    again = driver(client)
    await again.start(state)
    assert await take(again.events()) == [LoggedOut()]
    devices = (await client.get(f"{CONTROL}/devices")).json()
    assert [(d["phone"], d["linked"]) for d in devices] == [(PHONE, False)]


async def test_logout_by_the_gateway_unlinks_too(client: httpx.AsyncClient) -> None:
    device, state = await _paired(client)
    await device.logout()
    again = driver(client)
    await again.start(state)
    assert await take(again.events()) == [LoggedOut()]


async def test_what_a_driver_never_confirmed_comes_again_on_the_next_connection(
    client: httpx.AsyncClient,
) -> None:
    # A driver that reads a user's message and dies before its next poll confirms it (a
    # worker killed): the platform delivers it again to the device's next connection.
    device, state = await _paired(client)
    stream = device.events()
    inbound = {"phone": PHONE, "from": "+237677000000", "text": "read, never confirmed"}
    assert (await client.post(f"{CONTROL}/inbound", json=inbound)).status_code == 200
    [handed_out] = await take(stream)
    assert isinstance(handed_out, IncomingMessage)
    again = driver(client)
    await again.start(state)
    resumed, redelivered = await take(again.events(), 2)
    assert isinstance(resumed, Connected)
    assert redelivered == handed_out
    # The second driver confirms it by polling on; a third connection does not get it again.
    later = {"phone": PHONE, "from": "+237677000000", "text": "after"}
    assert (await client.post(f"{CONTROL}/inbound", json=later)).status_code == 200
    [after] = await take(again.events())
    assert isinstance(after, IncomingMessage)
    assert after.text == "after"
    third = driver(client)
    await third.start(state)
    third_events = third.events()
    assert [type(e) for e in await take(third_events)] == [Connected]
    # "after" was handed out and not yet confirmed (no later poll): that one alone comes.
    assert await take(third_events) == [after]
