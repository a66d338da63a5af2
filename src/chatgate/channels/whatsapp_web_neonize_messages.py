"""The neonize child's translations: Chatgate's sends to WhatsApp's message protobufs, and
WhatsApp's inbound messages and receipts to the small JSON events the child reports.

Only this module and :mod:`chatgate.channels.whatsapp_web_neonize_child` import neonize,
and only in the child process (``chatgate[whatsapp-web]``).

An inbound file's ``media_id`` is the media message itself (its URL, path, key and hashes,
without the thumbnail), serialized: whatsmeow needs exactly that to download and decrypt
the file, and so a download works after the session's process has been restarted or the
session moved to another worker.
"""

from __future__ import annotations

import base64
from typing import Any

from neonize.proto.Neonize_pb2 import JID
from neonize.proto.Neonize_pb2 import Message as MessageEvent
from neonize.proto.Neonize_pb2 import Receipt as ReceiptEvent
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContactMessage,
    ContactsArrayMessage,
    ContextInfo,
    ExtendedTextMessage,
    LocationMessage,
    Message,
)
from neonize.utils.jid import Jid2String, build_jid

# The prefix of a media id this driver made (a version, should the form ever change).
MEDIA_PREFIX = "nz1:"
# Receipt types (whatsmeow's) that move a sent message's status, and to what.
RECEIPT_STATUS = {
    ReceiptEvent.DESCRIPTOR.fields_by_name["Type"].enum_type.values_by_name[name].number: status
    for name, status in (("DELIVERED", "delivered"), ("READ", "read"), ("PLAYED", "read"))
}
_MEDIA_FIELDS = {
    "imageMessage": "image",
    "videoMessage": "video",
    "documentMessage": "document",
    "audioMessage": "audio",
}


def parse_jid(text: str) -> JID:
    """``user[.agent][:device]@server`` as whatsmeow's JID."""
    user, _, server = text.partition("@")
    if not user or not server:
        raise ValueError(f"not a WhatsApp id: {text!r}")
    user, _, device = user.partition(":")
    user, _, agent = user.partition(".")
    return JID(
        User=user,
        RawAgent=int(agent or 0),
        Device=int(device or 0),
        Server=server,
        Integrator=0,
        IsEmpty=False,
    )


def recipient(to: str) -> JID:
    """The chat of ``to``: a phone number (``+`` and separators allowed) or a JID."""
    if "@" in to:
        return parse_jid(to)
    digits = "".join(ch for ch in to if ch.isdigit())
    if not digits:
        raise ValueError("to: not a phone number")
    return build_jid(digits)


def quoting(extra: dict[str, Any], to: JID) -> ContextInfo | None:
    """The context of a reply to the message ``extra["quoted"]`` (a platform id)."""
    quoted = extra.get("quoted")
    if not quoted:
        return None
    return ContextInfo(stanzaID=str(quoted), participant=Jid2String(to))


def plain_message(kind: str, text: str | None, extra: dict[str, Any], to: JID) -> Message:
    """The message of a kind that carries no file: text, location, contact."""
    context = quoting(extra, to)
    if kind == "text":
        if not text:
            raise ValueError("text: a text message needs its text")
        if context is None:
            return Message(conversation=text)
        return Message(extendedTextMessage=ExtendedTextMessage(text=text, contextInfo=context))
    if kind == "location":
        location = LocationMessage(
            degreesLatitude=float(extra["latitude"]),
            degreesLongitude=float(extra["longitude"]),
            name=str(extra.get("name") or ""),
            address=str(extra.get("address") or ""),
            contextInfo=context,
        )
        return Message(locationMessage=location)
    if kind == "contact":
        cards = [str(card) for card in extra.get("contacts") or []]
        if not cards:
            raise ValueError("contacts: at least one vCard")
        contacts = [ContactMessage(displayName=_card_name(card), vcard=card) for card in cards]
        if len(contacts) == 1:
            contacts[0].contextInfo.CopyFrom(context or ContextInfo())
            return Message(contactMessage=contacts[0])
        return Message(
            contactsArrayMessage=ContactsArrayMessage(
                displayName=f"{len(contacts)} contacts", contacts=contacts, contextInfo=context
            )
        )
    raise ValueError(f"kind: {kind} is not a plain message")


def voice_message(upload: Any, seconds: int, mime_type: str, ptt: bool) -> Message:
    """An audio message for an uploaded file (``ptt``: played as a voice note)."""
    return Message(
        audioMessage=AudioMessage(
            URL=upload.url,
            directPath=upload.DirectPath,
            fileEncSHA256=upload.FileEncSHA256,
            fileLength=upload.FileLength,
            fileSHA256=upload.FileSHA256,
            mediaKey=upload.MediaKey,
            mimetype=mime_type,
            seconds=seconds,
            PTT=ptt,
        )
    )


def _card_name(card: str) -> str:
    for line in card.splitlines():
        if line.upper().startswith("FN:"):
            return line[3:].strip()
    return "Contact"


def media_id(message: Message, field: str) -> str:
    """The id of the file of ``message``'s ``field`` (see the module docstring)."""
    only = Message()
    getattr(only, field).CopyFrom(getattr(message, field))
    part = getattr(only, field)
    for heavy in ("JPEGThumbnail", "thumbnailDirectPath", "thumbnailSHA256", "thumbnailEncSHA256"):
        if heavy in part.DESCRIPTOR.fields_by_name:
            part.ClearField(heavy)
    return MEDIA_PREFIX + base64.urlsafe_b64encode(only.SerializeToString()).decode("ascii")


def media_message(reference: str) -> Message:
    """The media message a :func:`media_id` names."""
    if not reference.startswith(MEDIA_PREFIX):
        raise ValueError("media_id: not a file this driver reported")
    return Message.FromString(base64.urlsafe_b64decode(reference[len(MEDIA_PREFIX) :]))


def inbound(event: MessageEvent) -> dict[str, Any] | None:
    """The ``message`` event of a user's message, or ``None`` for what Chatgate does not
    take (our own messages, groups, and kinds other than text and files)."""
    source = event.Info.MessageSource
    if source.IsFromMe or source.IsGroup:
        return None
    message = event.Message
    found: dict[str, Any] = {
        "event": "message",
        "id": event.Info.ID,
        "from": "+" + source.Sender.User if source.Sender.User.isdigit() else source.Sender.User,
        "at": event.Info.Timestamp / 1000 if event.Info.Timestamp > 1e11 else event.Info.Timestamp,
    }
    if message.conversation or message.extendedTextMessage.text:
        return {
            **found,
            "kind": "text",
            "text": message.conversation or message.extendedTextMessage.text,
        }
    for field, kind in _MEDIA_FIELDS.items():
        if not message.HasField(field):
            continue
        part = getattr(message, field)
        if kind == "audio" and part.PTT:
            kind = "voice"
        return {
            **found,
            "kind": kind,
            "caption": getattr(part, "caption", None) or None,
            "filename": getattr(part, "fileName", None) or None,
            "mime_type": part.mimetype or None,
            "media_id": media_id(message, field),
        }
    return None


def receipts(event: ReceiptEvent) -> list[dict[str, Any]]:
    """The ``receipt`` events of a receipt for messages we sent."""
    status = RECEIPT_STATUS.get(event.Type)
    if status is None or event.MessageSource.IsFromMe:
        return []
    return [{"event": "receipt", "id": one, "status": status} for one in event.MessageIDs]
