"""Fetching a customer's file by its URL, for platforms that take an upload, not a URL.

TikTok's images and Zalo's files must be uploaded to the platform before a message can
name them, so the gateway fetches them itself. A customer's URL passes the same address
check as webhooks: only public addresses, or the platform's own host (the ``api_base`` an
operator set, an emulator on the same machine, say). The resolved address is pinned,
redirects are not followed (the next address would not have been checked), and no more
than the platform's limit is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from chatgate import net_guard
from chatgate.channels.base import (
    ProviderError,
    error_from_status,
    error_from_transport,
    media_too_large,
)


@dataclass(frozen=True)
class FetchedMedia:
    """A fetched file and the content type it was served with (lower case, ``""`` if none)."""

    content: bytes
    mime_type: str


async def fetch_media(
    url: str, http: httpx.AsyncClient, *, api_base: str, max_bytes: int, what: str = "file"
) -> FetchedMedia:
    """The file at ``url``, at most ``max_bytes`` long; permanent errors for what cannot be.

    ``what`` names the file in errors ("image", "file").
    """
    own = urlsplit(api_base).netloc == urlsplit(url).netloc
    try:
        target = await net_guard.check_url(url, allow_private=own)
        answer = await net_guard.call_checked(
            http, "GET", url, target, max_response_bytes=max_bytes + 1
        )
    except net_guard.UnsafeURL as exc:
        raise ProviderError("media_url_refused", str(exc), retryable=False) from exc
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
    if answer.status >= 400:
        raise error_from_status(
            answer.status, "media_unreachable", f"the {what} URL answered {answer.status}"
        )
    if answer.status >= 300:
        raise ProviderError(
            "media_redirected",
            f"the {what} URL answered {answer.status}; give the final URL",
            retryable=False,
        )
    if len(answer.excerpt) > max_bytes:
        raise media_too_large(max_bytes)
    mime_type = answer.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return FetchedMedia(answer.excerpt, mime_type)
