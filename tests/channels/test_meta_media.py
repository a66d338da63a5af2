"""Attachments are fetched from Meta's media hosts (or the connection's own host) only."""

from __future__ import annotations

import httpx
import pytest

from chatgate.channels.base import ProviderError
from chatgate.channels.meta_media import check_media_url, stream_media

GRAPH = "https://graph.facebook.com"


@pytest.mark.parametrize(
    "url",
    [
        "https://scontent.xx.fbcdn.net/v/t1/a.jpg",
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
        "https://scontent.cdninstagram.com/v/a.mp4",
    ],
)
def test_metas_media_hosts_are_allowed(url: str) -> None:
    check_media_url(url, GRAPH)


@pytest.mark.parametrize(
    "url",
    [
        "http://scontent.xx.fbcdn.net/v/a.jpg",  # not over HTTPS
        "https://fbcdn.net.attacker.example/a.jpg",
        "https://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:6379/",
        "https://example.com/a.jpg",
    ],
)
def test_anything_else_is_refused_for_good(url: str) -> None:
    with pytest.raises(ProviderError) as refused:
        check_media_url(url, GRAPH)
    assert (refused.value.code, refused.value.retryable) == ("media_host_refused", False)


def test_the_connections_own_host_is_allowed() -> None:
    check_media_url("http://127.0.0.1:9000/graph/_media/1", "http://127.0.0.1:9000/graph")
    with pytest.raises(ProviderError):
        check_media_url("http://127.0.0.1:9001/x", "http://127.0.0.1:9000/graph")


async def test_a_redirect_off_metas_hosts_is_refused_before_it_is_followed() -> None:
    seen: list[str] = []

    def platform(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://10.0.0.7/internal"})

    chunks: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        chunks.append(chunk)

    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as http:
        with pytest.raises(ProviderError) as refused:
            await stream_media(
                "https://lookaside.fbsbx.com/a", http, sink, api_base=GRAPH, limit=1024
            )
    assert refused.value.code == "media_host_refused"
    assert seen == ["https://lookaside.fbsbx.com/a"]
    assert chunks == []


async def test_the_token_goes_to_the_first_host_only() -> None:
    seen: list[tuple[str, str | None]] = []

    def platform(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("authorization")))
        if request.url.host == "lookaside.fbsbx.com":
            return httpx.Response(302, headers={"location": "https://scontent.xx.fbcdn.net/f"})
        return httpx.Response(200, content=b"file", headers={"content-type": "image/jpeg"})

    chunks: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        chunks.append(chunk)

    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as http:
        kind = await stream_media(
            "https://lookaside.fbsbx.com/a",
            http,
            sink,
            api_base=GRAPH,
            limit=1024,
            headers={"Authorization": "Bearer secret"},
        )
    assert kind == "image/jpeg"
    assert b"".join(chunks) == b"file"
    assert seen == [
        ("lookaside.fbsbx.com", "Bearer secret"),
        ("scontent.xx.fbcdn.net", None),
    ]
