"""The platforms' client: connections only where the network policy allows, to the address
that was checked, under the host's own name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from chatgate.api.app import build_gateway
from chatgate.channels.base import error_from_transport
from chatgate.guarded_http import AddressRefused, guarded_client, open_tcp
from chatgate.net_guard import NetworkPolicy, Resolver, UnsafeURL
from tests.support import settings_for

TIMEOUT = httpx.Timeout(5.0)


@asynccontextmanager
async def listener() -> AsyncIterator[tuple[int, list[bytes]]]:
    """An HTTP listener on loopback: its port, and the heads of the requests it received."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
        except asyncio.IncompleteReadError:
            writer.close()
            return
        writer.write(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], heads
    finally:
        server.close()
        await server.wait_closed()


def resolving_to(*addresses: str, asked: list[str] | None = None) -> Resolver:
    """A resolver answering ``addresses`` for any name (noting the names it is asked)."""

    async def resolve(host: str, port: int) -> list[str]:
        if asked is not None:
            asked.append(host)
        return list(addresses)

    return resolve


async def test_a_loopback_address_is_refused_before_connecting() -> None:
    async with (
        listener() as (port, heads),
        guarded_client(NetworkPolicy(), timeout=TIMEOUT) as http,
    ):
        for url in (f"http://127.0.0.1:{port}/x", f"http://[::ffff:127.0.0.1]:{port}/x"):
            with pytest.raises(AddressRefused, match="private, loopback or reserved"):
                await http.get(url)
    assert heads == []


async def test_a_name_resolving_to_loopback_is_refused_before_connecting() -> None:
    policy = NetworkPolicy(resolver=resolving_to("127.0.0.1"))
    async with listener() as (port, heads), guarded_client(policy, timeout=TIMEOUT) as http:
        with pytest.raises(AddressRefused):
            await http.post(f"http://platform.test:{port}/send", json={})
    assert heads == []


async def test_the_connection_goes_to_the_checked_address_under_the_hosts_name() -> None:
    asked: list[str] = []
    policy = NetworkPolicy(allow_private=True, resolver=resolving_to("127.0.0.1", asked=asked))
    async with listener() as (port, heads), guarded_client(policy, timeout=TIMEOUT) as http:
        answer = await http.get(f"http://platform.test:{port}/v1/me?x=1")
    assert answer.status_code == 204
    assert asked == ["platform.test"]
    [head] = heads
    assert head.startswith(b"GET /v1/me?x=1 HTTP/1.1\r\n")
    assert f"host: platform.test:{port}\r\n".encode() in head.lower()


async def test_a_name_that_does_not_resolve_is_an_ordinary_connection_error() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise OSError("no such name")

    async with guarded_client(NetworkPolicy(resolver=failing), timeout=TIMEOUT) as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.get("https://platform.test/")
    assert not isinstance(caught.value, AddressRefused)
    assert error_from_transport(caught.value).retryable


def test_a_refused_address_is_a_permanent_failure() -> None:
    error = error_from_transport(AddressRefused("the host '127.0.0.1' is a loopback address"))
    assert (error.code, error.retryable) == ("address_refused", False)
    assert "127.0.0.1" in error.message


async def test_tcp_connections_follow_the_same_policy() -> None:
    async with listener() as (port, heads):
        with pytest.raises(UnsafeURL):
            await open_tcp(NetworkPolicy(), "127.0.0.1", port)
        with pytest.raises(UnsafeURL):
            await open_tcp(NetworkPolicy(resolver=resolving_to("10.0.0.7")), "smsc.test", port)
        allowed = NetworkPolicy(allow_private=True, resolver=resolving_to("127.0.0.1"))
        reader, writer = await open_tcp(allowed, "smsc.test", port)
        writer.write(b"GET / HTTP/1.1\r\nhost: smsc.test\r\n\r\n")
        assert (await reader.readline()).startswith(b"HTTP/1.1 204")
        writer.close()
    assert len(heads) == 1


async def test_the_gateways_platform_client_is_guarded(tmp_path: Path) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'chatgate.db'}", allow_private_api_base=False)
    strict = build_gateway(settings)
    async with strict.http as http, listener() as (port, heads):
        with pytest.raises(AddressRefused):
            await http.get(f"http://127.0.0.1:{port}/")
    assert heads == []
