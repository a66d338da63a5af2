"""The emulated WhatsApp users: a phone and/or a username, and a BSUID per business.

Meta gives each user a business-scoped user id (BSUID) per business portfolio: a two-letter
country code, a dot and digits (``BR.1502576394655843``), the same in every webhook to that
business. A user who adopted a username may hide the phone: their webhooks carry the BSUID
and the username and no ``wa_id``/``from``. Here a user is found by phone, by username or by
BSUID; the BSUID is derived from the business account and the user (stable across restarts
of the emulator), and the country code comes from the phone (``US`` for a username-only user
unless the control API names one).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from chatgate.emulators.whatsapp_checks import BSUID, PHONE

USERNAME = re.compile(r"^@?[A-Za-z0-9._]{1,35}$")


@dataclass
class User:
    """One WhatsApp user as seen by one business account."""

    user_id: str
    wa_id: str | None = None
    username: str | None = None
    # Whether webhooks leave the phone out (a username-only user).
    phone_hidden: bool = False
    name: str = ""

    def contact(self, *, with_username: bool = True) -> dict[str, Any]:
        """The user's ``contacts[]`` entry in a webhook."""
        profile: dict[str, Any] = {"name": self.name}
        if self.username and with_username:
            profile["username"] = self.username
        entry: dict[str, Any] = {"profile": profile}
        if self.shown_phone:
            entry["wa_id"] = self.shown_phone
        entry["user_id"] = self.user_id
        return entry

    @property
    def shown_phone(self) -> str | None:
        """The phone a webhook may carry (none for a username-only user)."""
        return None if self.phone_hidden else self.wa_id

    @property
    def key(self) -> str:
        """The user's key in the emulator's per-user state (windows, last messages)."""
        return self.user_id


def _country(wa_id: str | None, given: Any) -> str:
    if isinstance(given, str) and re.fullmatch(r"[A-Z]{2}", given):
        return given
    if wa_id:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(f"+{wa_id}"))
        except phonenumbers.NumberParseException:
            region = None
        if region and region != "ZZ":
            return str(region)
    return "US"


def derive_user_id(business: str, who: str, country: str) -> str:
    """The BSUID of user ``who`` (a phone or a username) at ``business``."""
    digest = hashlib.sha256(f"{business}\x00{who}".encode()).digest()
    return f"{country}.{int.from_bytes(digest[:8], 'big')}"


@dataclass
class Users:
    """The users known to the emulator, per business account."""

    _by_key: dict[tuple[str, str], User] = field(default_factory=dict)

    def writer(self, business: str, payload: dict[str, Any]) -> User:
        """The user a control API ``inbound`` payload plays: ``from`` (a phone) and/or
        ``username``, ``phone_hidden`` (a username-only user whose webhooks carry no phone;
        implied when there is no ``from``), ``country``, ``name``."""
        raw_phone = payload.get("from")
        raw_username = payload.get("username")
        if raw_phone is not None and not PHONE.match(str(raw_phone)):
            raise ValueError("from: a phone number (digits, optionally with +)")
        if raw_username is not None and not USERNAME.match(str(raw_username)):
            raise ValueError("username: up to 35 letters, digits, '.' and '_'")
        if raw_phone is None and raw_username is None:
            raise ValueError("from: a phone number (digits, optionally with +), or a username")
        wa_id = str(raw_phone).lstrip("+") if raw_phone is not None else None
        username = str(raw_username).lstrip("@") if raw_username is not None else None
        user = self.find(business, wa_id=wa_id, username=username)
        if user is None:
            who = wa_id or f"@{username}"
            country = _country(wa_id, payload.get("country"))
            user = User(user_id=derive_user_id(business, who, country), wa_id=wa_id)
        user.username = username or user.username
        user.wa_id = wa_id or user.wa_id
        user.phone_hidden = bool(payload.get("phone_hidden", wa_id is None))
        if payload.get("name") is not None:
            user.name = str(payload["name"])
        self._remember(business, user)
        return user

    def find(
        self,
        business: str,
        *,
        wa_id: str | None = None,
        username: str | None = None,
        user_id: str | None = None,
    ) -> User | None:
        """The known user with that phone, username or BSUID."""
        for key in (wa_id, f"@{username}" if username else None, user_id):
            if key and (business, key) in self._by_key:
                return self._by_key[(business, key)]
        return None

    def recipient(self, business: str, to: str) -> User:
        """The user a send names (a phone or a BSUID); a phone never seen becomes a user."""
        if BSUID.match(to):
            found = self.find(business, user_id=to)
            return found if found is not None else User(user_id=to)
        wa_id = to.lstrip("+")
        found = self.find(business, wa_id=wa_id)
        if found is None:
            user_id = derive_user_id(business, wa_id, _country(wa_id, None))
            found = User(user_id=user_id, wa_id=wa_id)
            self._remember(business, found)
        return found

    def _remember(self, business: str, user: User) -> None:
        for key in (user.wa_id, f"@{user.username}" if user.username else None, user.user_id):
            if key:
                self._by_key[(business, key)] = user
