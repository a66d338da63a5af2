"""The WhatsApp Cloud API, emulated on the shared ``/graph`` host.

- ``POST /graph/{version}/{phone_number_id}/messages`` checks the body as Cloud API does
  (``(#100) ...`` errors for missing or malformed parameters, ``131009`` for values out of
  bounds), answers ``{"messaging_product", "contacts": [{"input", "wa_id"}], "messages":
  [{"id": "wamid..."}]}`` and then sends ``sent``, ``delivered`` and ``read`` status webhooks
  at the state's timing. A mark-as-read body answers ``{"success": true}``.
- Like Meta, delivery-time failures are accepted first and reported by a ``failed`` status:
  a non-template message to a user who has not written in 24 hours fails with 131047, an
  unreachable user (the ``invalid_recipient`` and ``async_failure`` faults) with 131026.
- Webhooks are serialised as Meta serialises them (ASCII only, ``\\uXXXX`` and ``\\/``
  escapes, no spaces) and signed over those exact bytes with ``X-Hub-Signature-256`` (and
  the legacy SHA-1 ``X-Hub-Signature``).
- ``GET /graph/{version}/{media_id}`` describes media a user sent; its URL (the
  "lookaside" download) needs the Bearer token too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chatgate.emulators.core import Account, EmulatorState, Fault, Received
from chatgate.emulators.graph import PREFIX, GraphProduct, bearer_token, graph_error

WINDOW_SECONDS = 24 * 3600
MESSAGE_TYPES = (
    "audio",
    "contacts",
    "document",
    "image",
    "interactive",
    "location",
    "reaction",
    "sticker",
    "template",
    "text",
    "video",
)
MEDIA_TYPES = ("audio", "document", "image", "sticker", "video")
LOOKASIDE_PATH = f"{PREFIX}/_lookaside/whatsapp_business/attachments"
_PHONE = re.compile(r"^\+?\d{5,20}$")

# (code, title, details) of the failures reported by status webhooks.
UNDELIVERABLE = (131026, "Message undeliverable", "Message Undeliverable.")
REENGAGEMENT = (
    131047,
    "Re-engagement message",
    "Message failed to send because more than 24 hours have passed since the customer "
    "last replied to this number.",
)

Problem = tuple[int, str, str | None]


def meta_json(value: Any) -> bytes:
    """JSON as Meta's webhooks carry it: compact, ASCII-only, with ``/`` escaped."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    # A "/" only ever occurs inside JSON strings, where "\/" is a valid escape.
    return text.replace("/", "\\/").encode("ascii")


def signature_headers(app_secret: str, body: bytes) -> dict[str, str]:
    """The signature headers Meta puts on a webhook ``body``."""
    key = app_secret.encode("utf-8")
    return {
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
        "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
    }


def cloud_error(
    status: int,
    code: int,
    message: str,
    *,
    details: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A Cloud API error answer: the Graph error with WhatsApp's ``error_data``."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    return JSONResponse({"error": error}, status_code=status, headers=headers)


class WhatsAppEmulator(GraphProduct):
    """WhatsApp Cloud API phone numbers on the emulated Graph host."""

    name = "whatsapp"

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(state)
        # Ids of the media this product stored (the state's media store is shared).
        self._media_ids: set[str] = set()
        self._conversations: dict[tuple[str, str], str] = {}

    # -- control API ----------------------------------------------------------------------

    def register(self, payload: dict[str, Any]) -> Account:
        """A business number from ``{phone_number_id, access_token, app_secret,
        verify_token?, display_phone_number?, waba_id?, webhook_url?}``."""
        missing = [
            k for k in ("phone_number_id", "access_token", "app_secret") if not payload.get(k)
        ]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        number_id = str(payload["phone_number_id"])
        display = "".join(ch for ch in str(payload.get("display_phone_number", "")) if ch.isdigit())
        account = Account(
            id=number_id,
            secrets={
                "access_token": str(payload["access_token"]),
                "app_secret": str(payload["app_secret"]),
                "verify_token": str(payload.get("verify_token", "")),
            },
            webhook_url=payload.get("webhook_url"),
            extra={
                "display_phone_number": display or f"1555{number_id[-7:].rjust(7, '0')}",
                "waba_id": str(payload.get("waba_id") or f"10{number_id[-13:]}"),
            },
        )
        self.state.add_account(self.name, account)
        return account

    async def inject_inbound(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A user writes: ``{phone_number_id, from, name?, text? | media? | location? |
        reply? | reaction? | contacts?, context_id?}``; the messages webhook is sent now."""
        account = self.accounts().get(str(payload.get("phone_number_id")))
        if account is None:
            raise ValueError(f"no WhatsApp number {payload.get('phone_number_id')!r}")
        user = str(payload.get("from", ""))
        if not _PHONE.match(user):
            raise ValueError("from: a phone number (digits, optionally with +)")
        wa_id = user.lstrip("+")
        wamid = self._wamid(wa_id)
        message: dict[str, Any] = {"from": wa_id, "id": wamid, "timestamp": _now()}
        if payload.get("context_id"):
            display = account.extra["display_phone_number"]
            message["context"] = {"from": display, "id": str(payload["context_id"])}
        message.update(self._inbound_fields(payload))
        value = {
            **self._value_head(account),
            "contacts": [{"profile": {"name": str(payload.get("name") or "")}, "wa_id": wa_id}],
            "messages": [message],
        }
        envelope = self._envelope(account, value)
        self.state.user_wrote(self.name, account.id, f"+{wa_id}")
        await self._post(account, envelope)
        answer: dict[str, Any] = {"id": wamid, "body": envelope}
        media = message.get(message["type"], {})
        if isinstance(media, dict) and message["type"] in MEDIA_TYPES:
            answer["media_id"] = media["id"]
        return answer

    def _inbound_fields(self, payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("text") is not None:
            return {"type": "text", "text": {"body": str(payload["text"])}}
        if isinstance(payload.get("media"), dict):
            return self._inbound_media(payload["media"])
        if isinstance(payload.get("location"), dict):
            location = payload["location"]
            keys = ("latitude", "longitude", "name", "address")
            return {"type": "location", "location": {k: location[k] for k in keys if k in location}}
        if isinstance(payload.get("reply"), dict):
            reply = payload["reply"]
            kind = reply.get("kind", "button_reply")
            if kind not in ("button_reply", "list_reply", "button"):
                raise ValueError("reply.kind: button_reply, list_reply or button")
            if kind == "button":
                return {
                    "type": "button",
                    "button": {"payload": reply["id"], "text": reply["title"]},
                }
            chosen = {"id": str(reply["id"]), "title": str(reply["title"])}
            return {"type": "interactive", "interactive": {"type": kind, kind: chosen}}
        if isinstance(payload.get("reaction"), dict):
            reaction = payload["reaction"]
            body = {"message_id": str(reaction["message_id"]), "emoji": reaction.get("emoji", "")}
            return {"type": "reaction", "reaction": body}
        if isinstance(payload.get("contacts"), list):
            return {"type": "contacts", "contacts": payload["contacts"]}
        raise ValueError("give one of text, media, location, reply, reaction or contacts")

    def _inbound_media(self, media: dict[str, Any]) -> dict[str, Any]:
        kind = media.get("kind")
        if kind not in MEDIA_TYPES:
            raise ValueError(f"media.kind: one of {', '.join(MEDIA_TYPES)}")
        content = base64.b64decode(media.get("content_base64", ""), validate=True)
        mime_type = str(media.get("mime_type") or "application/octet-stream")
        media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        self.state.media[media_id] = (content, mime_type)
        self._media_ids.add(media_id)
        body: dict[str, Any] = {
            "mime_type": mime_type,
            "sha256": base64.b64encode(hashlib.sha256(content).digest()).decode(),
            "id": media_id,
        }
        if media.get("caption") and kind in ("image", "video", "document"):
            body["caption"] = str(media["caption"])
        if kind == "document" and media.get("filename"):
            body["filename"] = str(media["filename"])
        if kind == "audio":
            body["voice"] = bool(media.get("voice", False))
        if kind == "sticker":
            body["animated"] = False
        return {"type": kind, kind: body}

    # -- the Cloud API ----------------------------------------------------------------------

    async def handle(self, account: Account, edge: str, request: Request, body: Any) -> Response:
        """``POST /{version}/{phone_number_id}/messages``."""
        if edge != "messages":
            return graph_error(
                400,
                100,
                f"Unsupported post request. Object with ID '{account.id}' does not support "
                f"the edge '{edge}'.",
                subcode=33,
                kind="GraphMethodException",
            )
        payload = body if isinstance(body, dict) else {}
        problem = check_message(payload)
        if problem is not None:
            self._record(account, request, payload, status=400)
            code, message, details = problem
            return cloud_error(400, code, message, details=details)
        if payload.get("status") == "read":
            self._record(account, request, payload)
            return JSONResponse({"success": True})
        wa_id = str(payload["to"]).lstrip("+")
        fault = self.state.take_fault(self.name, f"+{wa_id}")
        refusal = await self._refusal(fault, account)
        if refusal is not None:
            self._record(
                account, request, payload, recipient=f"+{wa_id}", status=refusal.status_code
            )
            return refusal
        wamid = self._wamid(wa_id)
        self._record(account, request, payload, wamid, f"+{wa_id}")
        self._follow_up(account, payload, wamid, wa_id, fault)
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": str(payload["to"]), "wa_id": wa_id}],
            "messages": [{"id": wamid}],
        }
        if payload.get("type") == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return JSONResponse(answer)

    async def _refusal(self, fault: Fault | None, account: Account) -> Response | None:
        """The answer a synchronous fault plays, if any."""
        if fault is None:
            return None
        if fault.kind == "server_error":
            return cloud_error(
                500, 131000, "(#131000) Something went wrong", details="Something went wrong"
            )
        if fault.kind == "timeout":
            await asyncio.sleep(fault.seconds)
            return cloud_error(
                503, 131016, "(#131016) Service unavailable", details="Service unavailable"
            )
        if fault.kind == "rate_limit":
            headers = None
            if fault.retry_after is not None:
                usage = {
                    "call_count": 100,
                    "total_cputime": 0,
                    "total_time": 100,
                    "estimated_time_to_regain_access": math.ceil(fault.retry_after / 60),
                }
                headers = {
                    "X-Business-Use-Case-Usage": json.dumps({account.extra["waba_id"]: [usage]})
                }
            return cloud_error(
                400,
                130429,
                "(#130429) Rate limit hit",
                details="Cloud API message throughput has been reached.",
                headers=headers,
            )
        if fault.kind == "permanent":
            return cloud_error(400, 100, "(#100) Invalid parameter")
        return None

    def _follow_up(
        self, account: Account, payload: dict[str, Any], wamid: str, wa_id: str, fault: Fault | None
    ) -> None:
        """Schedule the status webhooks of an accepted message."""
        callback = payload.get("biz_opaque_callback_data")
        failure = None
        if fault is not None and fault.kind in ("invalid_recipient", "async_failure"):
            failure = UNDELIVERABLE
        elif payload.get("type") != "template" and not self._window_open(account, wa_id):
            failure = REENGAGEMENT
        timing = self.state.timing
        if failure is not None:
            delay = next(
                (d for d in (timing.sent_after, timing.delivered_after) if d is not None), 0.0
            )
            status = self._status(wamid, "failed", wa_id, callback)
            code, title, details = failure
            status["errors"] = [
                {
                    "code": code,
                    "title": title,
                    "message": title,
                    "error_data": {"details": details},
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
                }
            ]
            self._schedule(account, delay, status)
            return
        category = "utility" if payload.get("type") == "template" else "service"
        steps = (
            ("sent", timing.sent_after),
            ("delivered", timing.delivered_after),
            ("read", timing.read_after),
        )
        for name, after in steps:
            if after is None:
                continue
            status = self._status(wamid, name, wa_id, callback)
            status.update(self._billing(account, wa_id, category, first=name == "sent"))
            self._schedule(account, after, status)

    def _window_open(self, account: Account, wa_id: str) -> bool:
        since = self.state.seconds_since_user_wrote(self.name, account.id, f"+{wa_id}")
        return since is not None and since <= WINDOW_SECONDS

    def _status(self, wamid: str, name: str, wa_id: str, callback: Any) -> dict[str, Any]:
        status: dict[str, Any] = {
            "id": wamid,
            "status": name,
            "timestamp": _now(),
            "recipient_id": wa_id,
        }
        if callback is not None:
            status["biz_opaque_callback_data"] = str(callback)
        return status

    def _billing(
        self, account: Account, wa_id: str, category: str, *, first: bool
    ) -> dict[str, Any]:
        conversation_id = self._conversations.setdefault((account.id, wa_id), secrets.token_hex(16))
        conversation: dict[str, Any] = {"id": conversation_id}
        if first:
            conversation["expiration_timestamp"] = str(int(time.time()) + WINDOW_SECONDS)
        conversation["origin"] = {"type": category}
        pricing = {"billable": True, "pricing_model": "CBP", "category": category}
        return {"conversation": conversation, "pricing": pricing}

    def _schedule(self, account: Account, delay: float, status: dict[str, Any]) -> None:
        envelope = self._envelope(account, {**self._value_head(account), "statuses": [status]})

        async def deliver() -> None:
            await self._post(account, envelope)

        self.state.later(delay, deliver)

    # -- media ----------------------------------------------------------------------------

    async def get_object(self, object_id: str, request: Request) -> Response | None:
        """``GET /{version}/{media_id}``: the media's download URL and facts."""
        stored = self.state.media.get(object_id) if object_id in self._media_ids else None
        if stored is None:
            return None
        if not self._token_known(bearer_token(request)):
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        content, mime_type = stored
        url = (
            f"{str(request.base_url).rstrip('/')}{LOOKASIDE_PATH}"
            f"?mid={object_id}&ext={int(time.time())}&hash={secrets.token_urlsafe(12)}"
        )
        return JSONResponse(
            {
                "url": url,
                "mime_type": mime_type,
                "sha256": hashlib.sha256(content).hexdigest(),
                "file_size": len(content),
                "id": object_id,
                "messaging_product": "whatsapp",
            }
        )

    def router(self) -> APIRouter:
        """The lookaside download, which (like Meta's) wants the Bearer token."""
        router = APIRouter(include_in_schema=False)

        @router.get(LOOKASIDE_PATH)
        async def lookaside(request: Request, mid: str = "") -> Response:
            if not self._token_known(bearer_token(request)):
                return Response(status_code=401)
            stored = self.state.media.get(mid) if mid in self._media_ids else None
            if stored is None:
                return Response(status_code=404)
            content, mime_type = stored
            return Response(content=content, media_type=mime_type)

        return router

    def _token_known(self, token: str | None) -> bool:
        return token is not None and any(
            hmac.compare_digest(account.secrets["access_token"], token)
            for account in self.accounts().values()
        )

    # -- helpers --------------------------------------------------------------------------

    def _value_head(self, account: Account) -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": account.extra["display_phone_number"],
                "phone_number_id": account.id,
            },
        }

    def _envelope(self, account: Account, value: dict[str, Any]) -> dict[str, Any]:
        change = {"value": value, "field": "messages"}
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": account.extra["waba_id"], "changes": [change]}],
        }

    async def _post(self, account: Account, envelope: dict[str, Any]) -> None:
        if not account.webhook_url:
            return
        raw = meta_json(envelope)
        headers = signature_headers(account.secrets["app_secret"], raw)
        await self.state.post_webhook(self.name, account.webhook_url, raw, headers)

    def _record(
        self,
        account: Account,
        request: Request,
        body: Any,
        message_id: str | None = None,
        recipient: str | None = None,
        *,
        status: int = 200,
    ) -> None:
        self.state.record(
            Received(
                platform=self.name,
                account=account.id,
                path=request.url.path,
                body=body,
                at=time.time(),
                message_id=message_id,
                recipient=recipient,
                status=status,
            )
        )

    def _wamid(self, wa_id: str) -> str:
        # Shaped like Meta's: base64 of a small binary record naming the user.
        digits = wa_id.encode("ascii")
        record = (
            b"\x1c\x18"
            + bytes([len(digits)])
            + digits
            + b"\x15\x02\x00\x11\x18\x12"
            + secrets.token_hex(9).upper().encode("ascii")
            + b"\x00"
        )
        return "wamid." + base64.b64encode(record).decode("ascii")


def _now() -> str:
    return str(int(time.time()))


# -- request checks -------------------------------------------------------------------------


def _required(path: str) -> Problem:
    return 100, f"(#100) The parameter {path} is required.", None


def _invalid(details: str) -> Problem:
    return 131009, "(#131009) Parameter value is not valid", details


def check_message(body: dict[str, Any]) -> Problem | None:
    """What Cloud API would refuse in a ``messages`` body, or ``None``."""
    product = body.get("messaging_product")
    if product is None:
        return _required("messaging_product")
    if product != "whatsapp":
        return (
            100,
            f'(#100) Param messaging_product must be one of {{WHATSAPP}} - got "{product}".',
            None,
        )
    if body.get("status") == "read":
        return None if body.get("message_id") else _required("message_id")
    to = body.get("to")
    if not to:
        return _required("to")
    if not isinstance(to, str) or not _PHONE.match(to):
        return 100, "(#100) Invalid parameter", "Invalid phone number"
    kind = body.get("type", "text")
    if kind not in MESSAGE_TYPES:
        allowed = ", ".join(t.upper() for t in MESSAGE_TYPES)
        return 100, f'(#100) Param type must be one of {{{allowed}}} - got "{kind}".', None
    context = body.get("context")
    if context is not None and not (isinstance(context, dict) and context.get("message_id")):
        return _required("context['message_id']")
    value = body.get(kind)
    if not isinstance(value, dict) and not (kind == "contacts" and isinstance(value, list)):
        return _required(kind)
    return _CHECKS.get(kind, _check_media)(kind, value)


def _check_text(kind: str, value: Any) -> Problem | None:
    text = value.get("body")
    if not isinstance(text, str) or not text:
        return _required("text['body']")
    if len(text) > 4096:
        return _invalid("text['body'] must be at most 4096 characters long")
    return None


def _check_media(kind: str, value: Any) -> Problem | None:
    if not value.get("link") and not value.get("id"):
        return _required(f"{kind}['link'] or {kind}['id']")
    return None


def _check_location(kind: str, value: Any) -> Problem | None:
    for key in ("latitude", "longitude"):
        if not isinstance(value.get(key), int | float):
            return _required(f"location['{key}']")
    return None


def _check_contacts(kind: str, value: Any) -> Problem | None:
    if not isinstance(value, list) or not value:
        return _required("contacts")
    for index, card in enumerate(value):
        name = card.get("name") if isinstance(card, dict) else None
        if not isinstance(name, dict) or not name.get("formatted_name"):
            return _required(f"contacts[{index}]['name']['formatted_name']")
    return None


def _check_reaction(kind: str, value: Any) -> Problem | None:
    if not value.get("message_id"):
        return _required("reaction['message_id']")
    if not isinstance(value.get("emoji"), str):
        return _required("reaction['emoji']")
    return None


def _check_template(kind: str, value: Any) -> Problem | None:
    if not value.get("name"):
        return _required("template['name']")
    language = value.get("language")
    if not isinstance(language, dict) or not language.get("code"):
        return _required("template['language']['code']")
    for component in value.get("components") or []:
        # Meta's documents show lower-case component types; SDKs send upper case.
        component_type = (
            str(component.get("type", "")).lower() if isinstance(component, dict) else ""
        )
        if component_type not in ("header", "body", "button", "carousel", "limited_time_offer"):
            return _invalid(f"unknown template component type {component_type!r}")
        if component_type == "button" and component.get("sub_type") is None:
            return _required("template['components'][]['sub_type']")
    return None


def _check_interactive(kind: str, value: Any) -> Problem | None:
    shape = value.get("type")
    if not shape:
        return _required("interactive['type']")
    action = value.get("action")
    if not isinstance(action, dict):
        return _required("interactive['action']")
    body = value.get("body")
    text = body.get("text") if isinstance(body, dict) else None
    if shape in ("button", "list", "cta_url") and not text:
        return _required("interactive['body']['text']")
    header = value.get("header")
    header_text = header.get("text") if isinstance(header, dict) else None
    if header_text is not None and len(str(header_text)) > 60:
        return _invalid("Header text length is invalid. Max length is 60")
    if shape == "button":
        return _check_reply_buttons(action, str(text))
    if shape == "list":
        return _check_list(action)
    if shape == "cta_url":
        parameters = action.get("parameters")
        if not isinstance(parameters, dict) or not parameters.get("url"):
            return _required("interactive['action']['parameters']['url']")
        if not 1 <= len(str(parameters.get("display_text") or "")) <= 20:
            return _invalid("Display text length is invalid. Max length is 20")
    return None


def _check_reply_buttons(action: dict[str, Any], text: str) -> Problem | None:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return _invalid("Buttons count is invalid. Min 1, max 3")
    if len(text) > 1024:
        return _invalid("Body text length is invalid. Max length is 1024")
    ids = set()
    for button in buttons:
        reply = button.get("reply") if isinstance(button, dict) else None
        if not isinstance(reply, dict) or button.get("type") != "reply" or not reply.get("id"):
            return _required("interactive['action']['buttons'][]['reply']['id']")
        if not 1 <= len(str(reply.get("title") or "")) <= 20:
            return _invalid("Button title length is invalid. Max length is 20")
        ids.add(reply["id"])
    if len(ids) != len(buttons):
        return _invalid("Button ids must be unique")
    return None


def _check_list(action: dict[str, Any]) -> Problem | None:
    if not 1 <= len(str(action.get("button") or "")) <= 20:
        return _invalid("Button text length is invalid. Max length is 20")
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        return _invalid("Sections count is invalid. Min 1, max 10")
    rows = [row for section in sections for row in (section.get("rows") or [])]
    if not 1 <= len(rows) <= 10:
        return _invalid("Total row count exceed max allowed count: 10")
    if len(sections) > 1 and not all(section.get("title") for section in sections):
        return _invalid("Section title is required when there is more than one section")
    for row in rows:
        if not row.get("id") or not 1 <= len(str(row.get("title") or "")) <= 24:
            return _invalid("Row title length is invalid. Max length is 24")
        if len(str(row.get("description") or "")) > 72:
            return _invalid("Row description length is invalid. Max length is 72")
    return None


_CHECKS = {
    "text": _check_text,
    "location": _check_location,
    "contacts": _check_contacts,
    "reaction": _check_reaction,
    "template": _check_template,
    "interactive": _check_interactive,
}
