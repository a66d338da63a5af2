"""API keys: their scopes and modes, and how a secret is made and hashed."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    """What a key may do."""

    ALL = "*"
    MESSAGES_SEND = "messages:send"
    MESSAGES_READ = "messages:read"
    KEYS_MANAGE = "keys:manage"
    CHANNELS_MANAGE = "channels:manage"
    WEBHOOKS_MANAGE = "webhooks:manage"
    CONTACTS_READ = "contacts:read"
    CONTACTS_WRITE = "contacts:write"
    TEMPLATES_MANAGE = "templates:manage"
    ACCOUNT_READ = "account:read"
    AUDIT_READ = "audit:read"
    # Sending one content to many recipients (MessageHub's content/distribute).
    CONTENT_DISTRIBUTE = "content:distribute"
    # The operator's: credit any account, set its plan and prices. Never granted by "*".
    ADMIN = "admin"


class KeyMode(StrEnum):
    """Live keys reach the platforms; test keys only ever reach the sandbox."""

    LIVE = "live"
    TEST = "test"


# 32 random bytes: 256 bits, as token_urlsafe encodes them in 43 characters.
_SECRET_BYTES = 32


def generate_secret(prefix: str) -> str:
    """A new key secret: ``prefix`` (``cg_live_``, or a dialect's) and 256 random bits."""
    return f"{prefix}{secrets.token_urlsafe(_SECRET_BYTES)}"


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest under which a secret is stored and looked up."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def display_prefix(secret: str, prefix: str) -> str:
    """The part of a secret safe to show again: its ``prefix`` and four characters."""
    return f"{prefix}{secret[len(prefix) : len(prefix) + 4]}…"


def grants(held: frozenset[str], wanted: Scope) -> bool:
    """Whether a key holding ``held`` scopes may act under ``wanted``.

    ``*`` grants every scope of the account's own, but not ``admin``: an account's keys
    must not be able to credit it.
    """
    if wanted is Scope.ADMIN:
        return wanted.value in held
    return Scope.ALL.value in held or wanted.value in held


def ungranted(held: frozenset[str], scopes: Iterable[str]) -> list[str]:
    """The scopes among ``scopes`` that a key holding ``held`` does not have, sorted."""
    return sorted(scope for scope in scopes if scope not in held and not grants(held, Scope(scope)))
