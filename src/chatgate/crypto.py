"""Encryption at rest for channel credentials (Fernet: AES-128-CBC + HMAC-SHA256).

``CHATGATE_SECRET_KEY`` holds one or more Fernet keys separated by commas. The first one
encrypts; every one of them decrypts, so a key is rotated by putting a new key first,
re-encrypting (``chatgate channels reencrypt``), then dropping the old key. Without the
variable, a key is generated once into ``CHATGATE_SECRET_KEY_FILE`` (owner-only) so that
the embedded default works out of the box; scaled-out deployments must set the variable so
that every process shares it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from chatgate.config import Settings

log = structlog.get_logger(__name__)


class SecretKeyError(Exception):
    """The configured key cannot decrypt what is stored, or is not a Fernet key."""


class CredentialBox:
    """Encrypts and decrypts credential dictionaries."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise SecretKeyError("at least one key is needed")
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode("ascii")) for key in keys])
        except (ValueError, UnicodeEncodeError) as exc:
            raise SecretKeyError(
                "CHATGATE_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes), "
                "comma-separated; make one with `chatgate secret-key`"
            ) from exc

    def encrypt(self, values: dict[str, Any]) -> bytes:
        """Encrypt a credentials dictionary with the first key."""
        return self._fernet.encrypt(json.dumps(values, separators=(",", ":")).encode("utf-8"))

    def decrypt(self, token: bytes) -> dict[str, Any]:
        """Decrypt with whichever configured key made ``token``."""
        try:
            plain = self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise SecretKeyError("no configured secret key decrypts these credentials") from exc
        values: dict[str, Any] = json.loads(plain)
        return values

    def rotate(self, token: bytes) -> bytes:
        """``token`` re-encrypted with the first key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken as exc:
            raise SecretKeyError("no configured secret key decrypts these credentials") from exc


def new_key() -> str:
    """A fresh Fernet key."""
    return Fernet.generate_key().decode("ascii")


def _key_from_file(path: Path) -> str:
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    key = new_key()
    # O_EXCL: two processes starting at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    log.warning("crypto.generated_secret_key", path=str(path))
    return key


def _configured_keys(settings: Settings) -> list[str]:
    if settings.secret_key is not None:
        return [k for k in settings.secret_key.get_secret_value().split(",") if k.strip()]
    return [_key_from_file(Path(settings.secret_key_file))]


def credential_box(settings: Settings) -> CredentialBox:
    """The box for this deployment's keys (generating the local key file if needed)."""
    return CredentialBox(_configured_keys(settings))


def derived_keys(settings: Settings, purpose: str) -> list[bytes]:
    """One key for ``purpose`` per configured secret key, in the same order (the first
    signs, all verify: rotating the secret key rotates these too).

    Derived with HMAC-SHA256, so that a key for one purpose tells nothing of the secret
    key or of another purpose's key.
    """
    return [
        hmac.new(key.strip().encode("ascii"), purpose.encode("utf-8"), hashlib.sha256).digest()
        for key in _configured_keys(settings)
    ]
