"""The neonize child's translations of WhatsApp's protobufs (neonize's own message types,
built here: no platform involved)."""

from __future__ import annotations

import pytest

wa = pytest.importorskip(
    "chatgate.channels.whatsapp_web_neonize_messages",
    reason="the whatsapp-web extra is not installed: pip install -e '.[whatsapp-web]'",
)


def test_ids_and_recipients() -> None:
    jid = wa.parse_jid("237612345678:7@s.whatsapp.net")
    assert (jid.User, jid.Device, jid.Server) == ("237612345678", 7, "s.whatsapp.net")
    assert wa.recipient("+237 699-000-111").User == "237699000111"
    with pytest.raises(ValueError, match="phone"):
        wa.recipient("nobody")


def test_plain_messages_are_built_as_the_platform_takes_them() -> None:
    to = wa.recipient("+237699000111")
    assert wa.plain_message("text", "hi", {}, to).conversation == "hi"
    reply = wa.plain_message("text", "yes", {"quoted": "3EB0ABC"}, to)
    assert reply.extendedTextMessage.contextInfo.stanzaID == "3EB0ABC"
    place = wa.plain_message("location", None, {"latitude": 4.05, "longitude": 9.7}, to)
    assert (place.locationMessage.degreesLatitude, place.locationMessage.degreesLongitude) == (
        4.05,
        9.7,
    )
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nEND:VCARD"
    contact = wa.plain_message("contact", None, {"contacts": [card]}, to)
    assert (contact.contactMessage.displayName, contact.contactMessage.vcard) == (
        "Ada Lovelace",
        card,
    )
    several = wa.plain_message("contact", None, {"contacts": [card, card]}, to)
    assert len(several.contactsArrayMessage.contacts) == 2
    with pytest.raises(ValueError, match="text"):
        wa.plain_message("text", "", {}, to)


def _inbound(**message: object) -> object:
    from neonize.proto.Neonize_pb2 import Message as MessageEvent

    event = MessageEvent()
    event.Info.ID = "3EB0IN"
    event.Info.Timestamp = 1_765_000_000
    event.Info.MessageSource.Sender.User = "237699000111"
    event.Info.MessageSource.Sender.Server = "s.whatsapp.net"
    event.Message.MergeFrom(type(event.Message)(**message))
    return event


def test_inbound_text_and_voice_notes_become_message_events() -> None:
    text = wa.inbound(_inbound(conversation="hello"))
    assert text == {
        "event": "message",
        "id": "3EB0IN",
        "from": "+237699000111",
        "at": 1_765_000_000,
        "kind": "text",
        "text": "hello",
    }
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import AudioMessage, ImageMessage

    audio = AudioMessage(directPath="/v/a", mimetype="audio/ogg; codecs=opus", PTT=True)
    voice = wa.inbound(_inbound(audioMessage=audio))
    assert (voice["kind"], voice["mime_type"]) == ("voice", "audio/ogg; codecs=opus")
    assert wa.media_message(voice["media_id"]).audioMessage.directPath == "/v/a"
    picture = ImageMessage(
        directPath="/v/x",
        mediaKey=b"k" * 32,
        mimetype="image/jpeg",
        caption="look",
        JPEGThumbnail=b"thumb",
    )
    image = wa.inbound(_inbound(imageMessage=picture))
    assert (image["kind"], image["caption"], image["filename"]) == ("image", "look", None)
    # The media id carries what a download needs, and not the thumbnail.
    kept = wa.media_message(image["media_id"]).imageMessage
    assert (kept.directPath, kept.mediaKey, kept.JPEGThumbnail) == ("/v/x", b"k" * 32, b"")
    with pytest.raises(ValueError, match="media_id"):
        wa.media_message("media-123")


def test_own_and_group_messages_are_not_inbound() -> None:
    own = _inbound(conversation="mine")
    own.Info.MessageSource.IsFromMe = True  # type: ignore[attr-defined]
    assert wa.inbound(own) is None
    group = _inbound(conversation="all")
    group.Info.MessageSource.IsGroup = True  # type: ignore[attr-defined]
    assert wa.inbound(group) is None


def test_receipts_map_to_statuses() -> None:
    from neonize.proto.Neonize_pb2 import Receipt as ReceiptEvent

    read = ReceiptEvent(
        MessageIDs=["a", "b"],
        Type=ReceiptEvent.DESCRIPTOR.fields_by_name["Type"].enum_type.values_by_name["READ"].number,
    )
    assert wa.receipts(read) == [
        {"event": "receipt", "id": "a", "status": "read"},
        {"event": "receipt", "id": "b", "status": "read"},
    ]
    retry = ReceiptEvent(MessageIDs=["a"], Type=3)  # RETRY: no status of ours
    assert wa.receipts(retry) == []


child = pytest.importorskip("chatgate.channels.whatsapp_web_neonize_child")


class Upload:
    """What neonize's upload answers (the fields the audio message takes)."""

    url = "https://mmg.example/u"
    DirectPath = "/v/u"
    FileEncSHA256 = b"e" * 32
    FileLength = 3
    FileSHA256 = b"s" * 32
    MediaKey = b"k" * 32


class Sent:
    ID = "3EB0SENT"


class RecordingClient:
    """A stand-in for neonize's client: records what the child asks of it."""

    def __init__(self) -> None:
        self.sent: list[tuple[object, object]] = []
        self.built: list[tuple[str, bytes, dict[str, object]]] = []

    def send_message(self, to: object, message: object) -> Sent:
        self.sent.append((to, message))
        return Sent()

    def upload(self, media: bytes, media_type: object) -> Upload:
        return Upload()

    def build_image_message(self, media: bytes, **options: object) -> object:
        from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ImageMessage, Message

        self.built.append(("image", media, options))
        return Message(imageMessage=ImageMessage(caption=str(options.get("caption") or "")))


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)

    def flush(self) -> None:
        return None


def _session() -> tuple[object, RecordingClient, Lines]:
    out = Lines()
    session = child.Session(child.Pipe(out))
    client = RecordingClient()
    session.client = client
    session.connected.set()
    return session, client, out


def _send(session: object, **request: object) -> dict[str, object]:
    answered: dict[str, object] = session.send(request)  # type: ignore[attr-defined]
    return answered


def test_the_child_sends_text_replies_and_reports_the_sent_receipt_after_the_id() -> None:
    session, client, out = _session()
    request = {"ref": 4, "op": "send", "to": "+237699000111", "kind": "text", "text": "hi"}
    child.answer(session.pipe, session, {**request, "extra": {"quoted": "Q1"}})  # type: ignore[attr-defined]
    to, message = client.sent[0]
    assert to.User == "237699000111"  # type: ignore[attr-defined]
    assert message.extendedTextMessage.contextInfo.stanzaID == "Q1"  # type: ignore[attr-defined]
    assert out.lines == [
        '{"ref":4,"ok":true,"id":"3EB0SENT"}\n',
        '{"event":"receipt","id":"3EB0SENT","status":"sent"}\n',
    ]


def test_the_child_sends_a_voice_note_as_push_to_talk_with_its_length() -> None:
    session, client, _ = _session()
    extra = {"ptt": True, "mime_type": "audio/ogg; codecs=opus"}
    _send(session, to="+1555", kind="audio", media="T2dnUw==", seconds=7, extra=extra)
    audio = client.sent[0][1].audioMessage  # type: ignore[attr-defined]
    assert (audio.PTT, audio.seconds, audio.mimetype, audio.directPath) == (
        True,
        7,
        "audio/ogg; codecs=opus",
        "/v/u",
    )


def test_the_child_sends_images_with_their_caption_and_refuses_a_missing_file() -> None:
    session, client, _ = _session()
    extra = {"caption": "look", "quoted": "Q2"}
    _send(session, to="+1555", kind="image", media="iVBORw==", extra=extra)
    assert client.built == [("image", b"\x89PNG", {"caption": "look"})]
    image = client.sent[0][1].imageMessage  # type: ignore[attr-defined]
    assert (image.caption, image.contextInfo.stanzaID) == ("look", "Q2")
    with pytest.raises(ValueError, match="file"):
        _send(session, to="+1555", kind="video", extra={})


def test_a_child_not_connected_refuses_to_send() -> None:
    session, _, _ = _session()
    session.connected.clear()  # type: ignore[attr-defined]
    with pytest.raises(child.Failure) as refused:
        _send(session, to="+1555", kind="text", text="hi")
    assert (refused.value.error, refused.value.retryable) == ("not_connected", True)
