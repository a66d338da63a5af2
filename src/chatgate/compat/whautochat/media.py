"""``mimeType``: the media kind it makes, and the types each channel carries.

The kind comes from the type's first half (``image/…``, ``video/…``, ``audio/…``; anything
else is a document). WhatsApp's Cloud API takes only the types it documents, so any other is
refused before the message is stored; Messenger takes any file (its ``file`` attachment).
"""

from __future__ import annotations

from chatgate.domain.channels import ChannelType
from chatgate.domain.content import MediaKind
from chatgate.errors import InvalidRequest

# The Cloud API's supported media types, by kind (image/webp is a sticker there).
_WHATSAPP: dict[MediaKind, frozenset[str]] = {
    MediaKind.IMAGE: frozenset({"image/jpeg", "image/png"}),
    MediaKind.VIDEO: frozenset({"video/mp4", "video/3gpp"}),
    MediaKind.AUDIO: frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
    MediaKind.DOCUMENT: frozenset(
        {
            "text/plain",
            "application/pdf",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        }
    ),
}
_KINDS = {"image": MediaKind.IMAGE, "video": MediaKind.VIDEO, "audio": MediaKind.AUDIO}


def bare_type(mime_type: str) -> str:
    """The type without parameters, in lower case: ``audio/ogg; codecs=opus`` is
    ``audio/ogg``."""
    return mime_type.split(";", 1)[0].strip().lower()


def media_kind(channel: ChannelType, mime_type: str) -> MediaKind:
    """The kind of a file of ``mime_type`` on ``channel``, or a 400 naming ``mimeType`` when
    the channel cannot carry that type."""
    bare = bare_type(mime_type)
    kind = _KINDS.get(bare.split("/", 1)[0], MediaKind.DOCUMENT)
    if channel is ChannelType.WHATSAPP and bare not in _WHATSAPP[kind]:
        allowed = ", ".join(sorted(_WHATSAPP[kind]))
        raise InvalidRequest(
            f"WhatsApp cannot carry {bare}; as {kind.value} it takes {allowed}",
            code="unsupported_content",
            field="mimeType",
        )
    return kind
