"""The webhooks WhatsApp Cloud API sends, as objects: envelopes, statuses, ids.

Every webhook is a ``whatsapp_business_account`` envelope with one ``messages`` change whose
value names the business number (``metadata``) and carries ``messages`` (a user wrote) or
``statuses`` (``sent``, ``delivered``, ``read`` with conversation and pricing facts, or
``failed`` with the error), with the user in ``contacts`` as Meta writes them since April
2026: the business-scoped ``user_id`` always, ``wa_id`` when the phone may be shown, the
username in ``delivered`` and ``read``. A status has ``recipient_id`` (the phone, when the
message went to one or it may be shown) and ``recipient_user_id``, which a ``failed`` status
of a message sent to a phone leaves out. Sending them, serialised and signed as Meta does, is
:meth:`chatgate.emulators.graph.GraphProduct.post_signed`.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from chatgate.emulators.core import Account
from chatgate.emulators.whatsapp_users import User

WINDOW_SECONDS = 24 * 3600
ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# (code, title, details) of the failures reported by status webhooks.
Failure = tuple[int, str, str]
UNDELIVERABLE: Failure = (131026, "Message undeliverable", "Message Undeliverable.")
REENGAGEMENT: Failure = (
    131047,
    "Re-engagement message",
    "Message failed to send because more than 24 hours have passed since the customer "
    "last replied to this number.",
)


def now() -> str:
    """The time as the webhooks write it: seconds since the epoch, as a string."""
    return str(int(time.time()))


def new_wamid(wa_id: str) -> str:
    """A fresh message id for a message to or from ``wa_id``."""
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


def value_head(account: Account) -> dict[str, Any]:
    """The start of every change value: the product and the business number."""
    return {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": account.extra["display_phone_number"],
            "phone_number_id": account.id,
        },
    }


def envelope(account: Account, value: dict[str, Any]) -> dict[str, Any]:
    """The webhook body around one ``messages`` change of the account's WABA."""
    change = {"value": value, "field": "messages"}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": account.extra["waba_id"], "changes": [change]}],
    }


def status_object(
    wamid: str, name: str, user: User, callback: Any, *, by_user_id: bool
) -> dict[str, Any]:
    """A ``statuses`` item: message ``wamid`` to ``user`` (sent to their BSUID when
    ``by_user_id``, else to their phone) reached status ``name``."""
    status: dict[str, Any] = {"id": wamid, "status": name, "timestamp": now()}
    phone = user.wa_id if not by_user_id else user.shown_phone
    if phone:
        status["recipient_id"] = phone
    if by_user_id or name != "failed":
        status["recipient_user_id"] = user.user_id
    if callback is not None:
        status["biz_opaque_callback_data"] = str(callback)
    return status


def status_contacts(user: User, name: str, *, by_user_id: bool) -> list[dict[str, Any]]:
    """The ``contacts`` beside a status: the user, with the username once delivered."""
    contact = user.contact(with_username=name in ("delivered", "read"))
    if name == "failed":
        # Only what the send named: the phone, or the BSUID.
        contact.pop("profile", None)
        if by_user_id:
            contact.pop("wa_id", None)
        else:
            contact = {"wa_id": user.wa_id}
    elif not by_user_id and user.wa_id:
        contact["wa_id"] = user.wa_id
    return [contact]


def failed_status(
    wamid: str, user: User, callback: Any, failure: Failure, *, by_user_id: bool
) -> dict[str, Any]:
    """A ``failed`` status item, with the error that failed the message."""
    status = status_object(wamid, "failed", user, callback, by_user_id=by_user_id)
    code, title, details = failure
    status["errors"] = [
        {
            "code": code,
            "title": title,
            "message": title,
            "error_data": {"details": details},
            "href": ERROR_CODES_URL,
        }
    ]
    return status


def billing(conversation_id: str, category: str, *, first: bool) -> dict[str, Any]:
    """The ``conversation`` and ``pricing`` of a status; the first one (``sent``) also
    tells when the conversation expires."""
    conversation: dict[str, Any] = {"id": conversation_id}
    if first:
        conversation["expiration_timestamp"] = str(int(time.time()) + WINDOW_SECONDS)
    conversation["origin"] = {"type": category}
    pricing = {"billable": True, "pricing_model": "CBP", "category": category}
    return {"conversation": conversation, "pricing": pricing}
