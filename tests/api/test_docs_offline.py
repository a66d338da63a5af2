"""Every documentation page Chatgate serves works offline: its scripts, styles and icon are
served by Chatgate itself, never fetched from a CDN, so the page is not blank air-gapped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from chatgate.compat.registry import dialect_apis
from chatgate.emulators.app import create_emulator_app

# What each kind of asset must be answered as, for a browser to use it.
_CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
}


class _Assets(HTMLParser):
    """The URLs a page loads: ``src`` of scripts and images, ``href`` of links."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = "href" if tag == "link" else "src"
        self.urls.extend(value for name, value in attrs if name == wanted and value)


async def _assert_offline(client: httpx.AsyncClient, page: str) -> None:
    """``page`` names no external host, and each asset it loads is served with its type."""
    response = await client.get(page)
    assert response.status_code == 200, page
    html = response.text
    assert not re.search(r"https?://", html), f"{page} loads from another host"
    parser = _Assets()
    parser.feed(html)
    # The page's script (Swagger UI's or ReDoc's bundle) and stylesheet or icon at least.
    assert len(parser.urls) >= 2, parser.urls
    for url in parser.urls:
        assert url.startswith("/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rfind(".") :]
        kind = asset.headers["content-type"].split(";")[0]
        assert kind in _CONTENT_TYPES[suffix], (url, kind)
        assert asset.content, url
    # The document the page renders is found where the page looks (below a dialect's mount).
    document = re.search(r"url: '([^']+)'|spec-url=\"([^\"]+)\"", html)
    assert document is not None, page
    answer = await client.get(document.group(1) or document.group(2))
    assert answer.status_code == 200, document.group(0)
    assert "paths" in answer.json()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_api_reference_loads_nothing_from_a_cdn(
    client: httpx.AsyncClient, page: str
) -> None:
    await _assert_offline(client, page)


async def test_each_dialects_reference_loads_nothing_from_a_cdn(
    client: httpx.AsyncClient,
) -> None:
    for api in dialect_apis():
        await _assert_offline(client, f"{api.mount_path}/docs")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_emulators_reference_loads_nothing_from_a_cdn(page: str) -> None:
    emulator = create_emulator_app()
    transport = httpx.ASGITransport(app=emulator)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        await _assert_offline(client, page)
