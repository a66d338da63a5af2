"""What the Messenger and Instagram emulators share: the Send API and the messaging webhooks.

``POST /graph/{version}/{id}/messages`` is checked the way the platforms check it (the
recipient, a message or a sender action, the message's shape, the tag), then the queued
faults, then the conversation rules:

- a user who never wrote cannot be messaged: ``(#100) No matching user found``
  (code 100, subcode 2018001);
- more than 24 hours after the user's last message a send needs ``MESSAGE_TAG`` with
  ``HUMAN_AGENT`` (good for 7 days), else ``(#10) This message is sent outside of allowed
  window.`` (code 10, subcode 2018278).

Webhooks are JSON as Meta writes it (non-ASCII and ``/`` escaped), signed over those exact
bytes with ``X-Hub-Signature-256`` (and the legacy SHA-1 ``X-Hub-Signature``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import time
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chatgate.emulators.core import Account, EmulatorState, Fault
from chatgate.emulators.graph import GraphProduct, graph_error, meta_json, usage_header

# ``meta_json`` is imported from here by the tests of the webhooks' exact bytes.
__all__ = ["MetaMessagingEmulator", "invalid", "meta_json", "now_ms"]

DAY = 86_400.0
HUMAN_AGENT_WINDOW = 7 * DAY
# Where the gateway reaches this emulator, for attachment URLs in webhooks.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:9000"

MESSAGING_TYPES = frozenset({"RESPONSE", "UPDATE", "MESSAGE_TAG"})
SENDER_ACTIONS = frozenset({"typing_on", "typing_off", "mark_seen", "react", "unreact"})
_ATTACHMENT_OF_KIND = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "document": "file",
    "file": "file",
    "sticker": "sticker",
}


def invalid(message: str) -> JSONResponse:
    """The ``(#100)`` answer to a malformed request."""
    return graph_error(400, 100, f"(#100) {message}")


def now_ms() -> int:
    """The time as the webhooks write it: milliseconds since the epoch."""
    return int(time.time() * 1000)


class MetaMessagingEmulator(GraphProduct):
    """The Send API and the messaging webhooks of one of the two platforms."""

    # The register payload's key for the account id, and the webhook envelope's ``object``.
    id_field: ClassVar[str]
    object_name: ClassVar[str]
    # Button types the templates take.
    button_types: ClassVar[frozenset[str]]
    # Whether the platform reports deliveries (Messenger) or only reads (Instagram).
    reports_deliveries: ClassVar[bool]
    tags: ClassVar[frozenset[str]] = frozenset({"HUMAN_AGENT"})
    # Where attachments are served, as the platform's CDN serves them: no token, a signed URL.
    cdn_path: ClassVar[str]

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(state)
        self._cdn_key = secrets.token_bytes(16)

    @abstractmethod
    def message_id(self, account: Account) -> str:
        """A fresh message id in the platform's format."""

    @abstractmethod
    def text_problem(self, text: str) -> str | None:
        """Why the platform refuses ``text`` (too long), or ``None``."""

    def reaction_problem(self, reaction: Any) -> str | None:
        """Why the platform refuses a ``react`` payload's reaction, or ``None``."""
        return None if isinstance(reaction, str) and reaction else "param reaction is required"

    def read_event(self, message_id: str) -> dict[str, Any]:
        """The ``read`` object of a read webhook for ``message_id``."""
        return {"mid": message_id}

    def router(self) -> APIRouter:
        """The CDN that attachment URLs in webhooks point at."""
        router = APIRouter(include_in_schema=False)

        @router.get(self.cdn_path)
        async def cdn(asset_id: str = "", signature: str = "") -> Response:
            signed = hmac.compare_digest(signature, self._sign_asset(asset_id))
            answer = self.state.media_answer(asset_id) if signed else None
            # The CDN answers a forged or expired link with 403.
            return Response(status_code=403) if answer is None else answer

        return router

    def _sign_asset(self, asset_id: str) -> str:
        return hmac.new(self._cdn_key, asset_id.encode(), hashlib.sha256).hexdigest()[:32]

    # -- control API ------------------------------------------------------------------------

    def register(self, payload: dict[str, Any]) -> Account:
        """Register an account from ``{id, token, app_secret, verify_token?, webhook_url?}``."""
        missing = [
            k for k in (self.id_field, self.token_secret, "app_secret") if not payload.get(k)
        ]
        if missing:
            raise ValueError(f"{self.name} accounts need {', '.join(missing)}")
        account = Account(
            id=str(payload[self.id_field]),
            secrets={
                self.token_secret: str(payload[self.token_secret]),
                "app_secret": str(payload["app_secret"]),
                "verify_token": str(payload.get("verify_token") or ""),
            },
            webhook_url=payload.get("webhook_url"),
            extra={"public_url": str(payload.get("public_url") or DEFAULT_PUBLIC_URL).rstrip("/")},
        )
        self.state.add_account(self.name, account)
        return account

    async def inject_inbound(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A user writes: text, media, a quick reply, a postback or a reaction."""
        account = self.accounts().get(str(payload.get(self.id_field, "")))
        if account is None:
            raise ValueError(f"no {self.name} account {payload.get(self.id_field)!r} is registered")
        user = str(payload["from"])
        stamp = now_ms()
        event: dict[str, Any] = {
            "sender": {"id": user},
            "recipient": {"id": account.id},
            "timestamp": stamp,
        }
        if "reaction" in payload:
            event["reaction"] = self._reaction(payload["reaction"])
            message_id = str(payload["reaction"]["mid"])
        elif "postback" in payload:
            message_id = self.message_id(account)
            postback = payload["postback"]
            event["postback"] = {
                "mid": message_id,
                "title": postback.get("title", ""),
                "payload": postback["payload"],
            }
        else:
            message_id = self.message_id(account)
            event["message"] = self._inbound_message(account, message_id, payload)
        # Any of these opens the 24-hour window again.
        self.state.user_wrote(self.name, account.id, user)
        envelope = self._envelope(account, event)
        await self.post_signed(account, envelope)
        return {"id": message_id, "body": envelope}

    def _inbound_message(
        self, account: Account, message_id: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"mid": message_id}
        quick_reply = payload.get("quick_reply")
        if quick_reply is not None:
            message["text"] = quick_reply.get("title") or quick_reply["payload"]
            message["quick_reply"] = {"payload": quick_reply["payload"]}
        elif payload.get("text"):
            message["text"] = payload["text"]
        if payload.get("media") is not None:
            message["attachments"] = [self._attachment(account, payload)]
        if payload.get("reply_to"):
            message["reply_to"] = {"mid": payload["reply_to"]}
        if len(message) == 1:
            raise ValueError("inbound needs text, media, quick_reply, postback or reaction")
        return message

    def _attachment(self, account: Account, payload: Mapping[str, Any]) -> dict[str, Any]:
        media = payload["media"]
        kind = media.get("kind", "image")
        if kind not in _ATTACHMENT_OF_KIND:
            raise ValueError(f"media.kind must be one of {sorted(_ATTACHMENT_OF_KIND)}")
        if media.get("content_base64") is not None:
            try:
                content = base64.b64decode(media["content_base64"], validate=True)
            except binascii.Error as exc:
                raise ValueError("media.content_base64 is not base64") from exc
            media_id = str(self.state.next_number())
            self.state.media[media_id] = (
                content,
                media.get("mime_type") or "application/octet-stream",
            )
            base = str(payload.get("public_url") or account.extra["public_url"]).rstrip("/")
            url = (
                f"{base}{self.cdn_path}?asset_id={media_id}&signature={self._sign_asset(media_id)}"
            )
        else:
            url = str(media["url"])
        attachment_payload: dict[str, Any] = {"url": url}
        if kind == "sticker":
            attachment_payload["sticker_id"] = 369239263222822
        return {"type": _ATTACHMENT_OF_KIND[kind], "payload": attachment_payload}

    def _reaction(self, reaction: Mapping[str, Any]) -> dict[str, Any]:
        emoji = str(reaction.get("emoji") or "")
        if not emoji:
            return {"mid": str(reaction["mid"]), "action": "unreact"}
        return {
            "mid": str(reaction["mid"]),
            "action": "react",
            "reaction": _REACTION_NAMES.get(emoji, "other"),
            "emoji": emoji,
        }

    # -- the Send API -----------------------------------------------------------------------

    async def handle(self, account: Account, edge: str, request: Request, body: Any) -> Response:
        """Answer ``POST /{version}/{id}/messages`` as the platform does."""
        recipient = _recipient_id(body)
        message_id: str | None = None
        answer = self._shape_problem(edge, body)
        if answer is None:
            fault = self.state.take_fault(self.name, recipient)
            if fault is not None:
                answer = await self._play(fault, account)
        if answer is None:
            answer = self._rule_problem(account, str(recipient), body)
        if answer is None:
            answer, message_id = self._accept(account, str(recipient), body)
        self.record_call(
            account,
            request,
            body,
            message_id=message_id,
            recipient=recipient,
            status=answer.status_code,
        )
        return answer

    def _shape_problem(self, edge: str, body: Any) -> JSONResponse | None:
        if edge != "messages":
            return graph_error(
                400,
                100,
                f"Unsupported post request. Object does not support the '{edge}' edge.",
                subcode=33,
            )
        if not isinstance(body, dict) or _recipient_id(body) is None:
            return invalid("The parameter recipient is required")
        message, action = body.get("message"), body.get("sender_action")
        if message is None and action is None:
            return invalid("Must send either message or state")
        if message is not None and action is not None:
            return invalid("sender_action cannot be sent together with message")
        if action is not None:
            return self._action_problem(action, body.get("payload"))
        kind = body.get("messaging_type", "RESPONSE")
        if kind not in MESSAGING_TYPES:
            return invalid(f"Param messaging_type must be one of {sorted(MESSAGING_TYPES)}")
        if kind == "MESSAGE_TAG" and body.get("tag") not in self.tags:
            return invalid(f"Param tag must be one of {sorted(self.tags)}")
        reply_to = body.get("reply_to")
        if reply_to is not None and not (isinstance(reply_to, dict) and reply_to.get("mid")):
            return invalid("Param reply_to[mid] must be a message id")
        problem = self._message_problem(message)
        return None if problem is None else invalid(problem)

    def _action_problem(self, action: Any, payload: Any) -> JSONResponse | None:
        if action not in SENDER_ACTIONS:
            return invalid(f"Param sender_action must be one of {sorted(SENDER_ACTIONS)}")
        if action in ("react", "unreact"):
            if not (isinstance(payload, dict) and payload.get("message_id")):
                return invalid("Param payload[message_id] is required")
            if action == "react":
                problem = self.reaction_problem(payload.get("reaction"))
                return None if problem is None else invalid(problem)
        return None

    def _message_problem(self, message: Any) -> str | None:
        if not isinstance(message, dict):
            return "Param message must be an object"
        text, attachment = message.get("text"), message.get("attachment")
        if (text is None) == (attachment is None):
            return "Message must have exactly one of text or attachment"
        if text is not None:
            if not isinstance(text, str) or not text:
                return "Param message[text] must be a non-empty UTF-8 encoded string"
            problem = self.text_problem(text)
            if problem is not None:
                return problem
        quick_replies = message.get("quick_replies")
        if quick_replies is not None and not _quick_replies_fit(quick_replies):
            return "Param message[quick_replies] takes 1 to 13 text replies with title and payload"
        if attachment is not None:
            return self._attachment_problem(attachment)
        return None

    def _attachment_problem(self, attachment: Any) -> str | None:
        if not isinstance(attachment, dict):
            return "Param message[attachment] must be an object"
        kind, payload = attachment.get("type"), attachment.get("payload")
        if not isinstance(payload, dict):
            return "Param message[attachment][payload] must be an object"
        if kind in ("image", "video", "audio", "file"):
            url = payload.get("url")
            if not (isinstance(url, str) and url.startswith(("https://", "http://"))):
                return "Param message[attachment][payload][url] must be a valid URL"
            return None
        if kind != "template":
            return (
                "Param message[attachment][type] must be one of image, video, audio, file, template"
            )
        return self._template_problem(payload)

    def _template_problem(self, payload: Mapping[str, Any]) -> str | None:
        template = payload.get("template_type")
        if template == "button":
            buttons = payload.get("buttons")
            if not payload.get("text"):
                return "Param text is required for the button template"
            if not (isinstance(buttons, list) and 1 <= len(buttons) <= 3):
                return "Param buttons takes 1 to 3 buttons"
            return self._buttons_problem(buttons)
        if template == "generic":
            elements = payload.get("elements")
            if not (isinstance(elements, list) and 1 <= len(elements) <= 10):
                return "Param elements takes 1 to 10 elements"
            for element in elements:
                if not (isinstance(element, dict) and element.get("title")):
                    return "Param elements[title] is required"
                buttons = element.get("buttons", [])
                if not (isinstance(buttons, list) and len(buttons) <= 3):
                    return "Param elements[buttons] takes at most 3 buttons"
                problem = self._buttons_problem(buttons)
                if problem is not None:
                    return problem
            return None
        return "Param template_type must be one of button, generic"

    def _buttons_problem(self, buttons: list[Any]) -> str | None:
        for button in buttons:
            if not isinstance(button, dict) or button.get("type") not in self.button_types:
                return f"Param buttons[type] must be one of {sorted(self.button_types)}"
            if not button.get("title"):
                return "Param buttons[title] is required"
            needed = "url" if button["type"] == "web_url" else "payload"
            if not button.get(needed):
                return f"Param buttons[{needed}] is required"
        return None

    async def _play(self, fault: Fault, account: Account) -> JSONResponse:
        if fault.kind == "timeout":
            await asyncio.sleep(fault.seconds)
            return graph_error(500, 2, "(#2) Service temporarily unavailable", transient=True)
        if fault.kind == "server_error":
            return graph_error(500, 2, "(#2) Service temporarily unavailable", transient=True)
        if fault.kind == "rate_limit":
            headers: dict[str, str] = {}
            if fault.retry_after is not None:
                headers = usage_header(
                    account.id,
                    fault.retry_after,
                    type=self.name,
                    call_count=100,
                    total_cputime=1,
                    total_time=1,
                )
            return graph_error(
                400,
                613,
                "(#613) Calls to this api have exceeded the rate limit.",
                headers=headers,
            )
        if fault.kind == "invalid_recipient":
            return graph_error(400, 100, "(#100) No matching user found", subcode=2018001)
        # permanent, and async_failure: these platforms report no failure after accepting.
        return invalid("Invalid parameter")

    def _rule_problem(
        self, account: Account, recipient: str, body: Mapping[str, Any]
    ) -> JSONResponse | None:
        since = self.state.seconds_since_user_wrote(self.name, account.id, recipient)
        if since is None:
            return graph_error(400, 100, "(#100) No matching user found", subcode=2018001)
        human_agent = (
            body.get("messaging_type") == "MESSAGE_TAG" and body.get("tag") == "HUMAN_AGENT"
        )
        if since > (HUMAN_AGENT_WINDOW if human_agent else DAY):
            return graph_error(
                400, 10, "(#10) This message is sent outside of allowed window.", subcode=2018278
            )
        return None

    def _accept(
        self, account: Account, recipient: str, body: Mapping[str, Any]
    ) -> tuple[JSONResponse, str | None]:
        if "sender_action" in body:
            # Sender actions are answered with the recipient only.
            return JSONResponse({"recipient_id": recipient}), None
        message_id = self.message_id(account)
        if account.webhook_url:
            self._schedule_receipts(account, recipient, message_id)
        return JSONResponse({"recipient_id": recipient, "message_id": message_id}), message_id

    # -- webhooks ---------------------------------------------------------------------------

    def _schedule_receipts(self, account: Account, user: str, message_id: str) -> None:
        timing = self.state.timing

        def from_user(key: str, value: dict[str, Any]) -> dict[str, Any]:
            return {
                "sender": {"id": user},
                "recipient": {"id": account.id},
                "timestamp": now_ms(),
                key: value,
            }

        async def delivered() -> None:
            delivery = {"mids": [message_id], "watermark": now_ms()}
            await self.post_signed(
                account, self._envelope(account, from_user("delivery", delivery))
            )

        async def read() -> None:
            event = from_user("read", self.read_event(message_id))
            await self.post_signed(account, self._envelope(account, event))

        if self.reports_deliveries and timing.delivered_after is not None:
            self.state.later(timing.delivered_after, delivered)
        if timing.read_after is not None:
            self.state.later(timing.read_after, read)

    def _envelope(self, account: Account, event: dict[str, Any]) -> dict[str, Any]:
        return {
            "object": self.object_name,
            "entry": [{"id": account.id, "time": now_ms(), "messaging": [event]}],
        }


def _recipient_id(body: Any) -> str | None:
    recipient = body.get("recipient") if isinstance(body, dict) else None
    found = recipient.get("id") if isinstance(recipient, dict) else None
    return str(found) if found else None


def _quick_replies_fit(quick_replies: Any) -> bool:
    if not (isinstance(quick_replies, list) and 1 <= len(quick_replies) <= 13):
        return False
    return all(
        isinstance(reply, dict)
        and reply.get("content_type") == "text"
        and reply.get("title")
        and reply.get("payload")
        for reply in quick_replies
    )


_REACTION_NAMES = {
    "❤️": "love",
    "❤": "love",
    "👍": "like",
    "👎": "dislike",
    "😆": "smile",
    "😮": "wow",
    "😢": "sad",
    "😠": "angry",
}
