"""Users of a Viber bot, as the emulator plays them: subscriptions and the callbacks users make.

A message from a user subscribes them; ``subscribed``, ``unsubscribed`` and
``conversation_started`` are events of their own. Files a user sends are kept in the
state's media store and named by a URL on the emulator's public host (Viber's are on
``dl-media.viber.com``), downloadable without a token.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from typing import Any

from chatgate.emulators.core import Account, EmulatorState
from chatgate.emulators.viber_wire import CHAT_HOSTNAME, now_ms

MEDIA_PATH = "/viber/dl-media"
_MEDIA_TYPES = {"image": "picture", "video": "video", "document": "file", "audio": "file"}


@dataclass
class Users:
    """What a bot knows of its users (kept with the account, so a reset forgets it)."""

    # Whether each user is subscribed; the times of the messages sent since the user last
    # wrote; the ``tracking_data`` of the bot's last message, returned with the user's next.
    subscribed: dict[str, bool] = field(default_factory=dict)
    unanswered: dict[str, list[float]] = field(default_factory=dict)
    tracking: dict[str, str] = field(default_factory=dict)


def users_of(account: Account) -> Users:
    """The bot's :class:`Users`."""
    users: Users = account.extra["users"]
    return users


def user_event(account: Account, event: str, user: dict[str, Any], token: int) -> dict[str, Any]:
    """The callback of a user's ``event``, and what it changes of their subscription."""
    users, user_id = users_of(account), user["id"]
    head = {"event": event, "timestamp": now_ms(), "chat_hostname": CHAT_HOSTNAME}
    if event == "subscribed":
        users.subscribed[user_id] = True
        return {**head, "user": user, "message_token": token}
    if event == "unsubscribed":
        users.subscribed[user_id] = False
        return {**head, "user_id": user["id"], "message_token": token}
    if event == "conversation_started":
        return {
            **head,
            "message_token": token,
            "type": "open",
            "context": "",
            "user": user,
            "subscribed": users.subscribed.get(user_id, False),
        }
    raise ValueError("event: subscribed, unsubscribed or conversation_started")


def user_message(
    state: EmulatorState, account: Account, payload: dict[str, Any], user_id: str
) -> dict[str, Any]:
    """The ``message`` object of a user's message from the control API's payload."""
    message: dict[str, Any]
    if isinstance(payload.get("text"), str):
        message = {"type": "text", "text": payload["text"]}
    elif isinstance(payload.get("reply"), dict) and payload["reply"].get("id"):
        # A pressed reply button: Viber sends its ActionBody as the user's text.
        message = {"type": "text", "text": str(payload["reply"]["id"])}
    elif isinstance(payload.get("media"), dict):
        message = _media(state, account, payload["media"])
    elif isinstance(payload.get("location"), dict):
        point = payload["location"]
        message = {
            "type": "location",
            "location": {"lat": float(point["latitude"]), "lon": float(point["longitude"])},
        }
    elif isinstance(payload.get("contact"), dict):
        contact = payload["contact"]
        if not contact.get("name") or not contact.get("phone_number"):
            raise ValueError("contact: name and phone_number are required")
        message = {
            "type": "contact",
            "contact": {"name": contact["name"], "phone_number": contact["phone_number"]},
        }
    elif isinstance(payload.get("sticker_id"), int):
        sticker = payload["sticker_id"]
        url = f"https://viber.com/app/stickers/{sticker}.png"
        message = {"type": "sticker", "sticker_id": sticker, "media": url}
    else:
        raise ValueError("give one of text, reply, media, location, contact, sticker_id, event")
    tracking = users_of(account).tracking
    if user_id in tracking:
        message["tracking_data"] = tracking[user_id]
    return message


def _media(state: EmulatorState, account: Account, media: dict[str, Any]) -> dict[str, Any]:
    kind = str(media.get("kind"))
    if kind not in _MEDIA_TYPES:
        raise ValueError(f"media.kind: one of {sorted(_MEDIA_TYPES)}")
    try:
        content = base64.b64decode(media.get("content_base64") or "", validate=True)
    except binascii.Error as exc:
        raise ValueError("media.content_base64 is not base64") from exc
    media_id = secrets.token_urlsafe(18)
    state.media[media_id] = (
        content,
        str(media.get("mime_type") or "application/octet-stream"),
    )
    message: dict[str, Any] = {
        "type": _MEDIA_TYPES[kind],
        "media": f"{account.extra['public_url']}{MEDIA_PATH}/{media_id}",
    }
    if kind == "image":
        message["thumbnail"] = message["media"]
    if media.get("caption"):
        message["text"] = str(media["caption"])
    if message["type"] == "file":
        message["file_name"] = str(media.get("filename") or "file")
        message["size"] = len(content)
    if kind == "video":
        message.update(size=len(content), duration=3)
    return message
