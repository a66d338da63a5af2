"""The WhatsApp Cloud API, emulated on the shared ``/graph`` host.

- Users (``whatsapp_users``) have a phone and/or a username and a business-scoped user id
  (BSUID) per business; a username-only user's webhooks carry no phone. A send names its
  user by phone (``to``) or by BSUID (``recipient``; ``to`` wins when both are given); a
  ``permanent`` fault with code 131062 plays Meta's refusal of a BSUID for a message that
  takes none (authentication templates).
- ``POST /graph/{version}/{phone_number_id}/messages`` checks the body as Cloud API does
  (``(#100) ...`` errors for missing or malformed parameters, ``131009`` for values out of
  bounds), answers ``{"messaging_product", "contacts": [{"input", "wa_id"}], "messages":
  [{"id": "wamid..."}]}`` and then sends ``sent``, ``delivered`` and ``read`` status webhooks
  at the state's timing. A mark-as-read body answers ``{"success": true}``.
- Like Meta, delivery-time failures are accepted first and reported by a ``failed`` status:
  a non-template message to a user who has not written in 24 hours fails with 131047, an
  unreachable user (the ``invalid_recipient`` and ``async_failure`` faults) with 131026.
- A ``rate_limit`` fault answers 130429 (throughput), or what its ``code`` asks: 80007 (the
  business account's call rate) or 131056 (one user messaged too often); with a retry hint,
  ``X-Business-Use-Case-Usage`` tells in minutes when the throttle lifts.
- Webhooks are serialised as Meta serialises them (ASCII only, ``\\uXXXX`` and ``\\/``
  escapes, no spaces) and signed over those exact bytes with ``X-Hub-Signature-256`` (and
  the legacy SHA-1 ``X-Hub-Signature``).
- ``POST /graph/{version}/{phone_number_id}/media`` uploads media (a multipart form) to send
  by id; ``GET /graph/{version}/{media_id}`` describes uploaded media and media a user sent,
  and its URL (the "lookaside" download) needs the Bearer token too; ``DELETE`` forgets it.

The request checks are in ``whatsapp_checks``, the user's messages in ``whatsapp_inbound``,
the webhook objects in ``whatsapp_webhooks`` and media in ``whatsapp_media``; this module is
the emulator and its routes.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chatgate.emulators.core import Account, EmulatorState, Fault, FaultKind
from chatgate.emulators.graph import (
    GraphProduct,
    cloud_error,
    graph_error,
    meta_json,
    usage_header,
)
from chatgate.emulators.whatsapp_checks import check_message
from chatgate.emulators.whatsapp_inbound import MEDIA_TYPES, inbound_fields
from chatgate.emulators.whatsapp_media import LOOKASIDE_PATH, WhatsAppMedia
from chatgate.emulators.whatsapp_users import User, Users
from chatgate.emulators.whatsapp_webhooks import (
    REENGAGEMENT,
    UNDELIVERABLE,
    WINDOW_SECONDS,
    billing,
    envelope,
    failed_status,
    new_wamid,
    now,
    status_contacts,
    status_object,
    value_head,
)

# ``meta_json`` is imported from here by the tests of the webhooks' exact bytes.
__all__ = ["LOOKASIDE_PATH", "WhatsAppEmulator", "meta_json"]


# Cloud API throttles in three ways: the number's throughput (130429), the business account's
# call rate (80007, a Graph-level limit) and one user's messages too close together (131056).
THROTTLING_CODES = (130429, 80007, 131056)
# A business-scoped user id where the message takes none (authentication templates).
USER_ID_NOT_SUPPORTED = 131062


def _throttled(code: int, headers: dict[str, str] | None) -> Response:
    """Cloud API's answer to a throttled send, for one of :data:`THROTTLING_CODES`."""
    if code == 80007:
        return graph_error(
            400,
            80007,
            "(#80007) There have been too many calls to this WhatsApp Business account. Wait a "
            "bit and try again. For more info, please refer to "
            "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
            transient=True,
            headers=headers,
        )
    if code == 131056:
        return cloud_error(
            400,
            131056,
            "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            details="Message failed to send because there were too many messages sent from "
            "this phone number to the same phone number in a short period of time.",
            headers=headers,
        )
    return cloud_error(
        400,
        130429,
        "(#130429) Rate limit hit",
        details="Cloud API message throughput has been reached.",
        headers=headers,
    )


class WhatsAppEmulator(GraphProduct):
    """WhatsApp Cloud API phone numbers on the emulated Graph host."""

    name = "whatsapp"
    fault_codes: ClassVar[dict[FaultKind, tuple[int, ...]]] = {
        "rate_limit": THROTTLING_CODES,
        "permanent": (100, USER_ID_NOT_SUPPORTED),
    }

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(state)
        self.media = WhatsAppMedia(state, self.accounts)
        self.users = Users()
        # Keyed by (number, the user's BSUID): a user's conversation and window follow the
        # user, whether a message named them by phone or by BSUID.
        self._conversations: dict[tuple[str, str], str] = {}
        # (number, user) -> the last message the number sent the user: what a tap answers.
        self._last_sent: dict[tuple[str, str], str] = {}

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
        """A user writes: ``{phone_number_id, from? , username?, phone_hidden?, country?,
        name?, text? | media? | location? | reply? | reaction? | contacts?, context_id?}``;
        the messages webhook is sent now. A user with a ``username`` and no ``from`` (or
        ``phone_hidden``) is username-only: the webhook names them by BSUID alone.

        A tap on a button or a list row always answers a message the number sent, and Cloud
        API names it in ``context``: without ``context_id``, the last one sent to the user.
        """
        account = self.accounts().get(str(payload.get("phone_number_id")))
        if account is None:
            raise ValueError(f"no WhatsApp number {payload.get('phone_number_id')!r}")
        user = self.users.writer(account.extra["waba_id"], payload)
        wamid = new_wamid(user.wa_id or user.user_id)
        message: dict[str, Any] = {}
        if user.shown_phone:
            message["from"] = user.shown_phone
        message.update({"from_user_id": user.user_id, "id": wamid, "timestamp": now()})
        fields = inbound_fields(payload, self.media.keep)
        context_id = payload.get("context_id")
        if not context_id and fields["type"] in ("interactive", "button"):
            context_id = self._last_sent.get((account.id, user.key)) or new_wamid(user.user_id)
        if context_id:
            display = account.extra["display_phone_number"]
            message["context"] = {"from": display, "id": str(context_id)}
        message.update(fields)
        value = {**value_head(account), "contacts": [user.contact()], "messages": [message]}
        body = envelope(account, value)
        self.state.user_wrote(self.name, account.id, user.key)
        await self.post_signed(account, body)
        answer: dict[str, Any] = {"id": wamid, "user_id": user.user_id, "body": body}
        media = message.get(message["type"], {})
        if isinstance(media, dict) and message["type"] in MEDIA_TYPES:
            answer["media_id"] = media["id"]
        return answer

    # -- the Cloud API ----------------------------------------------------------------------

    async def handle(self, account: Account, edge: str, request: Request, body: Any) -> Response:
        """``POST /{version}/{phone_number_id}/messages`` and ``.../media``."""
        if edge == "media":
            uploaded, logged = self.media.upload(body)
            self.record_call(account, request, logged, status=uploaded.status_code)
            return uploaded
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
            self.record_call(account, request, payload, status=400)
            code, message, details = problem
            return cloud_error(400, code, message, details=details)
        if payload.get("status") == "read":
            self.record_call(account, request, payload)
            return JSONResponse({"success": True})
        # Cloud API takes the phone when a body names both.
        by_user_id = not payload.get("to")
        named = str(payload["recipient"] if by_user_id else payload["to"])
        address = named if by_user_id else f"+{named.lstrip('+')}"
        user = self.users.recipient(account.extra["waba_id"], named)
        fault = self.state.take_fault(self.name, address)
        refusal = await self._refusal(fault, account)
        if refusal is not None:
            self.record_call(
                account, request, payload, recipient=address, status=refusal.status_code
            )
            return refusal
        wamid = new_wamid(user.wa_id or user.user_id)
        self._last_sent[(account.id, user.key)] = wamid
        self.record_call(account, request, payload, message_id=wamid, recipient=address)
        self._follow_up(account, payload, wamid, user, fault, by_user_id=by_user_id)
        # The answer names the user as the send did: by phone, or by BSUID.
        contact = {"input": named, "user_id" if by_user_id else "wa_id": user.wa_id or named}
        if by_user_id:
            contact["user_id"] = user.user_id
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [contact],
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
                headers = usage_header(
                    account.extra["waba_id"],
                    fault.retry_after,
                    call_count=100,
                    total_cputime=0,
                    total_time=100,
                )
            return _throttled(fault.code or THROTTLING_CODES[0], headers)
        if fault.kind == "permanent" and fault.code == USER_ID_NOT_SUPPORTED:
            return cloud_error(
                400,
                USER_ID_NOT_SUPPORTED,
                "(#131062) Business-scoped User ID (BSUID) recipients are not supported for "
                "this message",
                details="Send this message to the user's phone number.",
            )
        if fault.kind == "permanent":
            return cloud_error(400, 100, "(#100) Invalid parameter")
        return None

    def _follow_up(
        self,
        account: Account,
        payload: dict[str, Any],
        wamid: str,
        user: User,
        fault: Fault | None,
        *,
        by_user_id: bool,
    ) -> None:
        """Schedule the status webhooks of an accepted message."""
        callback = payload.get("biz_opaque_callback_data")
        failure = None
        if fault is not None and fault.kind in ("invalid_recipient", "async_failure"):
            failure = UNDELIVERABLE
        elif payload.get("type") != "template" and not self._window_open(account, user):
            failure = REENGAGEMENT
        timing = self.state.timing
        if failure is not None:
            delay = next(
                (d for d in (timing.sent_after, timing.delivered_after) if d is not None), 0.0
            )
            status = failed_status(wamid, user, callback, failure, by_user_id=by_user_id)
            contacts = status_contacts(user, "failed", by_user_id=by_user_id)
            self._schedule(account, delay, status, contacts)
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
            status = status_object(wamid, name, user, callback, by_user_id=by_user_id)
            conversation_id = self._conversation(account, user)
            status.update(billing(conversation_id, category, first=name == "sent"))
            contacts = status_contacts(user, name, by_user_id=by_user_id)
            self._schedule(account, after, status, contacts)

    def _conversation(self, account: Account, user: User) -> str:
        """The id of the account's conversation with ``user``, the same for every status."""
        return self._conversations.setdefault((account.id, user.key), secrets.token_hex(16))

    def _window_open(self, account: Account, user: User) -> bool:
        since = self.state.seconds_since_user_wrote(self.name, account.id, user.key)
        return since is not None and since <= WINDOW_SECONDS

    def _schedule(
        self,
        account: Account,
        delay: float,
        status: dict[str, Any],
        contacts: list[dict[str, Any]],
    ) -> None:
        value = {**value_head(account), "contacts": contacts, "statuses": [status]}
        body = envelope(account, value)

        async def deliver() -> None:
            await self.post_signed(account, body)

        self.state.later(delay, deliver)

    # -- media ----------------------------------------------------------------------------

    async def get_object(self, object_id: str, request: Request) -> Response | None:
        """``GET /{version}/{media_id}``: the media's download URL and facts."""
        return self.media.describe(object_id, request)

    async def delete_object(self, object_id: str, request: Request) -> Response | None:
        """``DELETE /{version}/{media_id}``: the media is forgotten."""
        return self.media.delete(object_id, request)

    def router(self) -> APIRouter:
        """The lookaside download of WhatsApp media."""
        return self.media.router()
