"""Signed links to inbound files: fetchable without a key until they expire.

A vendor's webhook (a dialect's) carries an attachment as a URL its receiver downloads
with no credentials of ours. Such a URL must be unguessable and must not stay valid
forever: ``/media-links/{token}``, where the token names the file and its expiry and is
signed with a key derived from the deployment's secret key (never a tenant's key). A
token whose signature does not match is unknown (404); one past its expiry is gone (410).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chatgate.config import Settings
from chatgate.crypto import derived_keys
from chatgate.errors import ChatgateError, NotFound

PATH = "/media-links"
_PURPOSE = "chatgate media links v1"
_TOKEN = re.compile(r"^(med_[0-9A-Z]{26})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")


class LinkExpired(ChatgateError):
    """A signed link that was valid once and has expired."""

    status_code = 410
    code = "link_expired"


def _signature(key: bytes, media_id: str, expires: int) -> str:
    digest = hmac.new(key, f"{media_id}.{expires}".encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True)
class MediaLinks:
    """Makes and checks signed links under ``base_url``."""

    keys: Sequence[bytes]
    base_url: str
    ttl_seconds: int

    @classmethod
    def of(cls, settings: Settings) -> MediaLinks:
        """The links of a deployment: its secret key, its public URL, its link lifetime."""
        base = settings.public_url or f"http://{settings.host}:{settings.port}"
        return cls(
            derived_keys(settings, _PURPOSE), base.rstrip("/"), settings.media_link_ttl_seconds
        )

    def token(self, media_id: str, now: datetime) -> str:
        """A token for ``media_id``, valid for the link lifetime from ``now``."""
        expires = int(now.timestamp()) + self.ttl_seconds
        return f"{media_id}.{expires}.{_signature(self.keys[0], media_id, expires)}"

    def url(self, media_id: str, now: datetime) -> str:
        """The absolute link to ``media_id``, valid for the link lifetime from ``now``."""
        return f"{self.base_url}{PATH}/{self.token(media_id, now)}"

    def media_id(self, token: str, now: datetime) -> str:
        """The file ``token`` names; 404 if it is not a token of ours, 410 once expired."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise NotFound("no such media link", field="token")
        media_id, expires_text, given = match.groups()
        expires = int(expires_text)
        if not any(
            hmac.compare_digest(_signature(key, media_id, expires), given) for key in self.keys
        ):
            raise NotFound("no such media link", field="token")
        if now.timestamp() >= expires:
            raise LinkExpired("this media link has expired", field="token")
        return media_id
