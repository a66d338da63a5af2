"""Our content shapes as TikTok Business Messaging send bodies.

``POST /open_api/v1.3/business/message/send/`` takes one message per call, addressed to a
conversation: ``{"business_id", "recipient_type": "CONVERSATION", "recipient":
"<conversation_id>", "message_type", <the field of that type>}``. What we carry:

- text: ``message_type: "TEXT"``, ``text: {"body"}`` (at most 6000 characters). A reply
  quotes the earlier message with ``referenced_message_info: {"referenced_message_id"}``;
  TikTok takes a quote on text only.
- image: ``message_type: "IMAGE"``, ``image: {"media_id"}``. TikTok does not fetch a URL:
  the file is uploaded first (``media/upload/``, JPG or PNG up to 3 MB) and its ``media_id``
  named. The upload is I/O, so it happens in ``send``; the body built here has no ``image``
  yet and the URL waits in the request's context (:data:`IMAGE_URL`).
- A message is text or an image, never both: an image with a caption cannot be carried.

Everything else (documents, video, audio, templates, buttons, lists, locations, contacts,
reactions) has no faithful TikTok form and is refused; ``degrade`` renders it down to text.
TikTok's own button cards (``QA_BUTTON_CARD``) and shared posts are not used: our content
has no shape that maps to them faithfully. ``preview_url`` has no TikTok counterpart (TikTok
decides previews itself) and is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatgate.channels.base import OutboundMessage, UnsupportedContent
from chatgate.domain import capabilities as cap

CHANNEL = "tiktok"
MAX_TEXT = 6000
# Where the image's URL waits between build and send, in ``ProviderRequest.context``.
IMAGE_URL = "image_url"

Body = dict[str, Any]


def build_send_body(message: OutboundMessage, business_id: str) -> tuple[Body, dict[str, Any]]:
    """The send call's JSON body for ``message``, and the context ``send`` needs.

    Raises :class:`UnsupportedContent` for content TikTok cannot carry.
    """
    content = message.content
    body: Body = {
        "business_id": business_id,
        "recipient_type": "CONVERSATION",
        "recipient": message.recipient,
    }
    kind = content["type"]
    if kind == "text":
        if len(content["text"]) > MAX_TEXT:
            raise UnsupportedContent(CHANNEL, cap.TEXT)
        body["message_type"] = "TEXT"
        body["text"] = {"body": content["text"]}
        if message.reply_to is not None:
            body["referenced_message_info"] = {"referenced_message_id": message.reply_to}
        return body, {}
    if kind == "media":
        return _image(content["media"], message, body)
    raise UnsupportedContent(CHANNEL, _feature(content))


def _image(media: Mapping[str, Any], message: OutboundMessage, body: Body) -> tuple[Body, Any]:
    if media.get("voice"):
        raise UnsupportedContent(CHANNEL, cap.MEDIA_VOICE)
    if media.get("kind") != "image":
        raise UnsupportedContent(CHANNEL, f"media.{media.get('kind')}")
    if media.get("caption"):
        raise UnsupportedContent(CHANNEL, cap.MEDIA_CAPTION)
    if message.reply_to is not None:
        # TikTok quotes only in text messages.
        raise UnsupportedContent(CHANNEL, cap.REPLY_TO)
    body["message_type"] = "IMAGE"
    return body, {IMAGE_URL: str(media["url"])}


def _feature(content: Mapping[str, Any]) -> str:
    needed = cap.features_of(content)
    return needed[0] if needed else str(content["type"])


def with_media_id(body: Mapping[str, Any], media_id: str) -> Body:
    """The body of an image send once its upload named ``media_id``."""
    return {**body, "image": {"media_id": media_id}}
