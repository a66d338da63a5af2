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
