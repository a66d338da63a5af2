"""Fetching a customer's file by its URL, for platforms that take an upload, not a URL.

TikTok's images and Zalo's files must be uploaded to the platform before a message can
name them, so the gateway fetches them itself. The URL is the customer's: the client the
adapters are given connects only where the network policy allows (public addresses, unless
the operator allowed private ones; see :mod:`chatgate.guarded_http`), whatever host the
connection's ``api_base`` names. Redirects are not followed (the customer gives the final
URL), and no more than the platform's limit is read.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from chatgate import net_guard
from chatgate.channels.base import (
    ProviderError,
    error_from_status,
    error_from_transport,
    media_too_large,
    stream_capped,
)


@dataclass(frozen=True)
class FetchedMedia:
    """A fetched file and the content type it was served with (lower case, ``""`` if none)."""

    content: bytes
    mime_type: str


async def fetch_media(
    url: str, http: httpx.AsyncClient, *, max_bytes: int, what: str = "file"
) -> FetchedMedia:
    """The file at ``url``, at most ``max_bytes`` long; permanent errors for what cannot be.

    ``what`` names the file in errors ("image", "file").
    """
    try:
        net_guard.split_url(url)
    except net_guard.UnsafeURL as exc:
        raise ProviderError("media_url_refused", str(exc), retryable=False) from exc
    chunks: list[bytes] = []

    async def keep(chunk: bytes) -> None:
        chunks.append(chunk)

    try:
        async with http.stream("GET", url, follow_redirects=False) as response:
            if response.status_code >= 400:
                raise error_from_status(
                    response.status_code,
                    "media_unreachable",
                    f"the {what} URL answered {response.status_code}",
                )
            if response.status_code >= 300:
                raise ProviderError(
                    "media_redirected",
                    f"the {what} URL answered {response.status_code}; give the final URL",
                    retryable=False,
                )
            await stream_capped(response, keep, max_bytes, lambda: media_too_large(max_bytes))
            content_type = response.headers.get("content-type", "")
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
    mime_type = content_type.split(";", 1)[0].strip().lower()
    return FetchedMedia(b"".join(chunks), mime_type)
