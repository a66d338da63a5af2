"""``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` on every
answer, as MessageHub's page promises.

A request made with a valid key already carries its key's state (the gateway's middleware
stamps it). Every other answer (no key or a refused one, an unknown path, the public
``webhooks/delivery``, the OpenAPI document) counts against its source address and shows
that count: anonymous requests share one limit per address. Only a refused key is refused
for it (429, see :mod:`.auth`): guessing keys is what the limit is for, and a platform's
burst of webhooks must never be turned away.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatgate.api.actor import client_ip
from chatgate.api.ratelimit import RateLimitState
from chatgate.api.state import Gateway

# The rate limit of requests without a valid key, per source address: the page's free plan.
ANONYMOUS_PER_MINUTE = 60
_LIMIT_HEADER = "x-ratelimit-limit"


async def count_anonymous(gateway: Gateway, request: Request) -> RateLimitState:
    """Count one request without a valid key against its source address."""
    address = client_ip(request) or "unknown"
    return await gateway.limiter.hit(f"messagehub-anonymous:{address}", ANONYMOUS_PER_MINUTE)


class RateLimitHeaders:
    """Adds the address's rate-limit headers to an answer that has none."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_limit(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if _LIMIT_HEADER not in headers:
                    state = await count_anonymous(self.gateway, Request(scope))
                    for name, value in state.headers().items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_limit)
