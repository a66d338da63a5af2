"""Downloading attachments from Meta's hosts, and from nowhere else.

A WhatsApp media URL comes from the Graph API and is fetched with the access token; a
Messenger or Instagram attachment URL comes in the webhook. Either way the gateway is asked
to fetch a URL it did not choose, so the URL (and every redirect it leads to) must be on
Meta's CDN over HTTPS, or on the connection's own ``api_base`` host (a proxy, or the
emulator). Anything else is refused before a request is made: no token is sent to a
stranger, and the token is never carried to another host. Being the ``api_base`` host is not
enough by itself: the client connects only where the network policy allows (see
:mod:`chatgate.guarded_http`), so a private host needs the operator's permission too.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from chatgate.channels.base import (
    MediaSink,
    ProviderError,
)
from chatgate.channels.media_stream import refused_with, stream_download

# Where Meta serves attachments: its CDNs and "lookaside" download hosts.
MEDIA_DOMAINS = (
    "fbcdn.net",
    "fbsbx.com",
    "cdninstagram.com",
    "whatsapp.net",
    "facebook.com",
    "instagram.com",
)


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
    return await stream_download(
        url,
        http,
        sink,
        limit=limit,
        check=lambda hop, _own: check_media_url(hop, api_base),
        refusal=refused_with(
            "the platform refused the attachment download (expired links answer 403)"
        ),
        headers=headers,
    )
