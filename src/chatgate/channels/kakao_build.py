"""Our content shapes as NHN Cloud KakaoTalk Bizmessage calls: which endpoint, which body.

Kakao business messages come in two products, both sent through NHN Cloud:

- **AlimTalk** (informational, Kakao-approved templates only):
  ``POST /alimtalk/v2.3/appkeys/{appKey}/messages`` with ``senderKey``, ``templateCode``
  and ``recipientList[{recipientNo, templateParameter}]``. A ``template`` content is an
  AlimTalk send: ``name`` is the template code, the named ``variables`` are the
  ``templateParameter`` (each fills ``#{key}`` in the approved text).
- **Brand messages** (advertising; they replaced FriendTalk): free-form ones,
  ``POST /brand-message/v1.0/appkeys/{appKey}/freestyle-messages`` with a
  ``chatBubbleType``, and template-based ones, ``POST .../basic-messages``.

How a request chooses: ``options.kakao = {"type": "alimtalk" | "brand", "targeting"?:
"I" | "M" | "N"}``. A template is an AlimTalk send unless the type is ``brand`` (then a
brand-message template); any other content is a free-form brand message. The gateway's
rules (``ChannelRules.templates_only``) refuse, with 422, a free-form send whose request
does not say ``"type": "brand"``: a brand message is an advertisement, with its own
consent, hours (none 20:50-08:00 KST) and price, never sent by accident. ``targeting``
defaults to ``I`` (the channel's friends), the one every channel may use.

What a free-form brand message carries:

- ``text``: a ``TEXT`` bubble (at most 1,300 characters); ``preview_url`` has no
  counterpart (Kakao shows links as they are).
- ``media`` of kind image *with a caption*: an ``IMAGE`` bubble (the caption is its
  required ``content``). Kakao only shows images registered with NHN first
  (``POST /brand-message/v1.0/appkeys/{appKey}/images``): ``media.url`` must be the
  ``imageUrl`` that upload returned; the adapter passes it on as it is.
- ``interactive`` buttons that are all links: a ``TEXT`` bubble with web-link (``WL``)
  buttons, at most five, names at most 14 characters; header, body and footer are joined
  by blank lines. Reply, call and list choices have no counterpart: Kakao's bot-keyword
  buttons answer in a chat this API does not read.
- Nothing else (documents, video, audio, locations, contacts, reactions, replies).

A template's header and button parameters, and positional variables, have no place in
AlimTalk (the header and buttons are part of the approved template; parameters are named),
so such a template is refused rather than sent without them.

Text is passed on exactly as given: the body is written as UTF-8 JSON without ``\\u``
escapes and no string is normalised, so Korean text (precomposed or not) arrives
byte-exact. Recipients are E.164 numbers; Korean ones (``+82``) are written the domestic
way NHN's examples use (``01012345678``), others as their digits with the country code.
Each recipient carries our message id as ``recipientGroupingKey``, which NHN echoes in
its result webhooks and queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatgate.channels.base import OutboundMessage, UnsupportedContent, refuse_commerce
from chatgate.domain import capabilities as cap

CHANNEL = "kakao"
ALIMTALK = "alimtalk"
BRAND = "brand"
# Kakao's limits on a TEXT or IMAGE bubble and its buttons.
MAX_CONTENT = 1300
MAX_BUTTONS = 5
MAX_BUTTON_NAME = 14
TARGETINGS = frozenset({"I", "M", "N"})
DEFAULT_TARGETING = "I"

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class KakaoCall:
    """One built send: the product it goes through, its path under the app key, its body."""

    product: str
    path: str
    body: Json


def kakao_options(options: Mapping[str, Any]) -> Mapping[str, Any]:
    """The request's ``options.kakao`` (empty when absent or not an object)."""
    found = options.get("kakao")
    return found if isinstance(found, Mapping) else {}


def wire_number(recipient: str) -> str:
    """A recipient as NHN's ``recipientNo``: Korean numbers domestic, others with country code."""
    digits = recipient.lstrip("+")
    if recipient.startswith("+82"):
        return "0" + digits[2:]
    return digits


def e164(number: str) -> str:
    """An NHN ``recipientNo`` as our E.164 address (the inverse of :func:`wire_number`)."""
    if number.startswith("+"):
        return number
    if number.startswith("0"):
        return "+82" + number[1:]
    return "+" + number


def build_call(message: OutboundMessage, sender_key: str) -> KakaoCall:
    """The call that sends ``message``; raises :class:`UnsupportedContent`."""
    if message.reply_to is not None:
        raise UnsupportedContent(CHANNEL, cap.REPLY_TO)
    chosen = kakao_options(message.options)
    content = message.content
    recipient: Json = {"recipientNo": wire_number(message.recipient)}
    if content["type"] == "template":
        parameters = _template_parameters(content["template"])
        if parameters:
            recipient["templateParameter"] = parameters
        brand = chosen.get("type") == BRAND
        if brand:
            recipient["targeting"] = _targeting(chosen)
        recipient["recipientGroupingKey"] = message.id
        body = {"senderKey": sender_key, "templateCode": content["template"]["name"]}
        if brand:
            return KakaoCall(BRAND, "basic-messages", {**body, "recipientList": [recipient]})
        return KakaoCall(ALIMTALK, "messages", {**body, "recipientList": [recipient]})
    bubble = _bubble(content)
    recipient["targeting"] = _targeting(chosen)
    recipient["recipientGroupingKey"] = message.id
    body = {"senderKey": sender_key, **bubble, "recipientList": [recipient]}
    return KakaoCall(BRAND, "freestyle-messages", body)


def _targeting(chosen: Mapping[str, Any]) -> str:
    targeting = chosen.get("targeting", DEFAULT_TARGETING)
    return targeting if targeting in TARGETINGS else DEFAULT_TARGETING


def _template_parameters(template: Mapping[str, Any]) -> Json:
    variables = template.get("variables") or {}
    if not isinstance(variables, Mapping) or template.get("header") or template.get("buttons"):
        raise UnsupportedContent(CHANNEL, cap.TEMPLATE)
    # The values go out exactly as given: Korean text must reach Kakao byte-exact.
    return dict(variables)


def _bubble(content: Mapping[str, Any]) -> Json:
    kind = content["type"]
    if kind == "text":
        return {"chatBubbleType": "TEXT", "content": _content(content["text"], cap.TEXT)}
    if kind == "media":
        media = content["media"]
        if media.get("voice"):
            raise UnsupportedContent(CHANNEL, cap.MEDIA_VOICE)
        if media["kind"] != "image":
            raise UnsupportedContent(CHANNEL, f"media.{media['kind']}")
        if not media.get("caption"):
            # An IMAGE bubble's text is required: an image alone has no form here.
            raise UnsupportedContent(CHANNEL, cap.MEDIA_IMAGE)
        return {
            "chatBubbleType": "IMAGE",
            "content": _content(media["caption"], cap.MEDIA_CAPTION),
            "image": {"imageUrl": media["url"]},
        }
    if kind == "interactive":
        return _links(content["interactive"])
    raise UnsupportedContent(CHANNEL, kind)


def _content(text: str, feature: str) -> str:
    if len(text) > MAX_CONTENT:
        raise UnsupportedContent(CHANNEL, feature)
    return text


def _links(interactive: Mapping[str, Any]) -> Json:
    refuse_commerce(CHANNEL, interactive)
    shape = interactive["kind"]
    if shape != "buttons":
        features = {"quick_replies": cap.QUICK_REPLIES, "list": cap.LIST}
        raise UnsupportedContent(CHANNEL, features.get(shape, cap.CARDS))
    buttons = interactive["buttons"]
    for button in buttons:
        kind = button.get("type", "reply")
        if kind != "url":
            raise UnsupportedContent(
                CHANNEL, cap.BUTTONS_CALL if kind == "call" else cap.BUTTONS_REPLY
            )
    if len(buttons) > MAX_BUTTONS or any(len(b["title"]) > MAX_BUTTON_NAME for b in buttons):
        raise UnsupportedContent(CHANNEL, cap.BUTTONS_URL)
    parts = (interactive.get("header"), interactive["body"], interactive.get("footer"))
    text = "\n\n".join(part for part in parts if part)
    return {
        "chatBubbleType": "TEXT",
        "content": _content(text, cap.TEXT),
        "buttons": [
            {"name": button["title"], "type": "WL", "linkMo": button["url"]} for button in buttons
        ],
    }
