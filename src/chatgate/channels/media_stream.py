"""Downloading a platform's file: redirects followed one checked hop at a time, credentials
kept to the first host, the size capped while it streams.

Every adapter that downloads inbound media shares this walk; each supplies what it allows
(``check``: raise a permanent ``ProviderError`` for a URL it refuses) and how it reads a
refusal (``refusal``). httpx's own redirect following is off, so that no hop escapes the
check and no credential follows a redirect to another host.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
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

MAX_REDIRECTS = 5
# Checks one hop: the URL, and whether it is on the first host (the one credentials go to).
UrlCheck = Callable[[str, bool], None]
Refusal = Callable[[httpx.Response], Awaitable[ProviderError]]


def refused_with(message: str) -> Refusal:
    """A refusal that classifies the answer by its status, with ``message``."""

    async def refusal(response: httpx.Response) -> ProviderError:
        return error_from_status(
            response.status_code,
            f"http_{response.status_code}",
            message,
            headers=response.headers,
        )

    return refusal


async def stream_download(
    url: str,
    http: httpx.AsyncClient,
    sink: MediaSink,
    *,
    limit: int,
    check: UrlCheck,
    refusal: Refusal,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
) -> str | None:
    """Stream the file at ``url`` into ``sink``; its content type (``None`` if unnamed).

    ``headers`` and ``auth`` go to the first host only. More than ``limit`` bytes raise the
    ``media_too_large`` refusal; more than ``MAX_REDIRECTS`` hops a permanent one.
    """
    first_host = urlsplit(url).netloc.lower()
    try:
        for _ in range(MAX_REDIRECTS + 1):
            own = urlsplit(url).netloc.lower() == first_host
            check(url, own)
            async with http.stream(
                "GET",
                url,
                headers=dict(headers or {}) if own else {},
                auth=auth if own else None,
                follow_redirects=False,
            ) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code >= 300:
                    await response.aread()
                    raise await refusal(response)
                await stream_capped(response, sink, limit, lambda: media_too_large(limit))
                content_type = response.headers.get("content-type", "").split(";")[0].strip()
                return content_type or None
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
    raise ProviderError("media_redirects", "the download redirected too often", retryable=False)
