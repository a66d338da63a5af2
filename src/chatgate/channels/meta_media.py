"""Downloading attachments from Meta's hosts, and from nowhere else.

A WhatsApp media URL comes from the Graph API and is fetched with the access token; a
Messenger or Instagram attachment URL comes in the webhook. Either way the gateway is asked
to fetch a URL it did not choose, so the URL (and every redirect it leads to) must be on
Meta's CDN over HTTPS, or on the connection's own ``api_base`` host (a proxy, or the
emulator). Anything else is refused before a request is made: no calls into the private
network, and no token sent to a stranger. The token is never carried to another host.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import httpx

from chatgate.channels.base import (
    MediaSink,
    ProviderError,
    error_from_status,
    error_from_transport,
    media_too_large,
    stream_capped,
)

# Where Meta serves attachments: its CDNs and "lookaside" download hosts.
MEDIA_DOMAINS = (
    "fbcdn.net",
    "fbsbx.com",
    "cdninstagram.com",
    "whatsapp.net",
    "facebook.com",
    "instagram.com",
)
MAX_REDIRECTS = 5


def check_media_url(url: str, api_base: str) -> None:
    """Refuse (permanently) a URL outside Meta's media hosts and the connection's own host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    on_meta = parts.scheme == "https" and any(
        host == domain or host.endswith("." + domain) for domain in MEDIA_DOMAINS
    )
    own = urlsplit(api_base)
    on_own_host = parts.scheme == own.scheme and parts.netloc.lower() == own.netloc.lower()
    if not (on_meta or on_own_host):
        raise ProviderError(
            "media_host_refused",
            f"attachments are downloaded from Meta's media hosts only, not from {host or url!r}",
            retryable=False,
        )


async def stream_media(
    url: str,
    http: httpx.AsyncClient,
    sink: MediaSink,
    *,
    api_base: str,
    limit: int,
    headers: Mapping[str, str] | None = None,
) -> str | None:
    """Stream the file at ``url`` into ``sink``, following checked redirects; its type.

    ``headers`` (the token, where Meta wants it) go to the first host only. More than
    ``limit`` bytes raise the ``media_too_large`` refusal.
    """
    first_host = urlsplit(url).netloc.lower()
    try:
        for _ in range(MAX_REDIRECTS + 1):
            check_media_url(url, api_base)
            sent = dict(headers or {}) if urlsplit(url).netloc.lower() == first_host else {}
            async with http.stream("GET", url, headers=sent, follow_redirects=False) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code >= 300:
                    raise error_from_status(
                        response.status_code,
                        f"http_{response.status_code}",
                        "the platform refused the attachment download (expired links answer 403)",
                        headers=response.headers,
                    )
                await stream_capped(response, sink, limit, lambda: media_too_large(limit))
                content_type = response.headers.get("content-type", "").split(";")[0].strip()
                return content_type or None
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
    raise ProviderError("media_redirects", "the download redirected too often", retryable=False)
