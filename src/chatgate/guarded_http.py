"""Connections to the platforms, made only where the network policy allows.

Every request an adapter or the worker makes (sends, ``setWebhook``, uploads, token
refreshes, result polls, media downloads) goes through one ``httpx.AsyncClient`` whose
connections are opened here: the host is resolved, every address it resolves to is checked
(:class:`chatgate.net_guard.NetworkPolicy`), and the connection goes to an address that was
checked, never to a second lookup's answer. The URL, the ``Host`` header and TLS (SNI and
the certificate check) keep the host's name, so the platform sees an ordinary request.

The check sits under the client rather than in each adapter so that no call can miss it:
a channel's ``api_base`` is a URL a tenant chose, and so is every file URL in a message or
in a webhook the tenant's own secret signs. A refused address raises
:class:`AddressRefused`, which adapters turn into a permanent ``address_refused`` failure;
a name that does not resolve is an ordinary, retryable connection error.

SMPP has no HTTP: :func:`open_tcp` makes its TCP connection under the same policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import anyio
import httpcore
import httpx

from chatgate.net_guard import HostNotFound, IPAddress, NetworkPolicy, UnsafeURL


class AddressRefused(httpx.ConnectError):
    """The policy forbids the host's address; the text says why (safe to show a tenant)."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the policy allows."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve and check ``host`` (within ``timeout``), then connect to its addresses
        in turn."""
        addresses = await _resolve_within(self.policy, host, port, timeout)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # addresses is never empty
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: a platform is not a file on this machine."""
        raise AddressRefused("the platforms are reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        """httpcore's pause between connection retries."""
        await self._inner.sleep(seconds)


async def _resolve_within(
    policy: NetworkPolicy, host: str, port: int, seconds: float | None
) -> list[IPAddress]:
    try:
        with anyio.fail_after(seconds):
            return await policy.addresses(host, port)
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"resolving {host!r} took too long") from None
    except HostNotFound as exc:
        raise httpcore.ConnectError(str(exc)) from None
    except UnsafeURL as exc:
        raise AddressRefused(str(exc)) from None


# httpx's own defaults: connections in all, and kept open between calls.
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connection pool opening connections through a
    :class:`GuardedBackend`.

    httpx offers no public way to hand its pool a network backend; the pool it builds is
    replaced by one built the same way with the backend (the tests call loopback listeners
    through it, so a change of httpx that broke this would not go unnoticed).
    """

    def __init__(self, policy: NetworkPolicy, *, limits: httpx.Limits = LIMITS) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy),
        )
        self.policy = policy


def guarded_client(policy: NetworkPolicy, *, timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The client every platform call goes through: guarded, following no redirect.

    No proxy is taken from the environment: through a proxy the platform's name would be
    resolved, and the address chosen, where the policy cannot check it.
    """
    return httpx.AsyncClient(
        transport=GuardedTransport(policy),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )


async def open_tcp(
    policy: NetworkPolicy, host: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to ``host`` under ``policy``: to its checked addresses in turn.

    Raises :class:`UnsafeURL` when the policy forbids the address, ``OSError`` when none
    can be reached (a name that does not resolve included).
    """
    try:
        addresses = await policy.addresses(host, port)
    except HostNotFound as exc:
        raise OSError(str(exc)) from None
    failure: OSError | None = None
    for address in addresses:
        try:
            return await asyncio.open_connection(str(address), port)
        except OSError as exc:
            failure = exc
    assert failure is not None  # addresses is never empty
    raise failure
