"""Who a WhatsApp Cloud API webhook is about: phone, business-scoped user id, username.

Since April 2026 Meta names every user by a business-scoped user id (BSUID, ``user_id``:
``BR.1502576394655843``) besides, or instead of, the phone number. In a ``messages``
change:

- ``contacts[]`` has ``user_id`` always, ``wa_id`` (the phone) only when Meta may share it,
  ``parent_user_id`` when parent BSUIDs are enabled, and ``profile.username`` when the
  user adopted a username;
- each message has ``from`` (the phone, absent for a username-only user) and
  ``from_user_id`` (the BSUID), and ``from_parent_user_id`` where enabled;
- each status has ``recipient_id`` (the phone, when the message went to one or Meta may
  share it) and ``recipient_user_id`` (the BSUID; absent on a ``failed`` status of a
  message sent to a phone).

A user is addressed as ``"+" + phone`` when there is a phone, else by the BSUID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatgate.domain.addresses import is_user_id


@dataclass(frozen=True, slots=True)
class WhatsAppUser:
    """One user as a webhook names them."""

    phone: str | None
    user_id: str | None
    parent_user_id: str | None = None
    username: str | None = None
    name: str | None = None

    @property
    def address(self) -> str | None:
        """How we address the user: the phone when known, else the BSUID."""
        return self.phone or self.user_id


def phone_address(wa_id: Any) -> str | None:
    """``"+" + digits`` for a ``wa_id``, or ``None`` when it is not a phone."""
    text = str(wa_id or "").lstrip("+")
    return f"+{text}" if text.isdigit() else None


def user_id_of(value: Any) -> str | None:
    """A BSUID (or parent BSUID) as given, or ``None`` when ``value`` is not one."""
    text = str(value or "").strip()
    return text if is_user_id(text) else None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None


def _profile(contact: Mapping[str, Any]) -> Mapping[str, Any]:
    profile = contact.get("profile")
    return profile if isinstance(profile, dict) else {}


def contacts_by_key(contacts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ``contacts[]`` of a change, found by their ``wa_id`` and by their ``user_id``."""
    found: dict[str, dict[str, Any]] = {}
    for contact in contacts:
        for key in ("wa_id", "user_id"):
            if contact.get(key):
                found.setdefault(str(contact[key]), contact)
    return found


def sender_of(message: Mapping[str, Any], contacts: Mapping[str, dict[str, Any]]) -> WhatsAppUser:
    """The user who sent ``message``, from the message and its ``contacts[]`` entry."""
    contact = contacts.get(str(message.get("from_user_id") or "")) or contacts.get(
        str(message.get("from") or ""), {}
    )
    profile = _profile(contact)
    return WhatsAppUser(
        phone=phone_address(message.get("from")) or phone_address(contact.get("wa_id")),
        # ``from`` holding the BSUID itself is read as one too, should Meta ever write it so.
        user_id=user_id_of(message.get("from_user_id"))
        or user_id_of(contact.get("user_id"))
        or user_id_of(message.get("from")),
        parent_user_id=user_id_of(message.get("from_parent_user_id"))
        or user_id_of(contact.get("parent_user_id")),
        username=_text(profile.get("username")),
        name=_text(profile.get("name")),
    )


def recipient_of(status: Mapping[str, Any]) -> WhatsAppUser:
    """The user a ``statuses[]`` item is about."""
    return WhatsAppUser(
        phone=phone_address(status.get("recipient_id")),
        user_id=user_id_of(status.get("recipient_user_id")),
        parent_user_id=user_id_of(status.get("recipient_parent_user_id")),
    )
