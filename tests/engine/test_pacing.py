"""Pacing: a burst to one sender is spread to its rate, and every worker keeps to it."""

from __future__ import annotations

import time
from bisect import bisect_left

import httpx
import pytest
from asgi_lifespan import LifespanManager

from chatgate.api.app import create_app
from chatgate.channels.base import ProviderRequest, SendResult
from chatgate.channels.sandbox import SandboxAdapter
from chatgate.config import Settings
from chatgate.domain.channels import ChannelType
from chatgate.domain.pacing import DEFAULT_PACE, Pace, Rate
from chatgate.engine.pacing import Pacer
from tests.conftest import REDIS_URL
from tests.support import auth, gateway, make_tenant, until


def over_limit(times: list[float], rate: int, seconds: float = 1.0) -> int:
    """How many sends found ``rate`` others already in the window before them."""
    times = sorted(times)
    return sum(1 for i, t in enumerate(times) if i - bisect_left(times, t - seconds) >= rate)


class RecordingSandbox(SandboxAdapter):
    """The sandbox, noting when each send reached the platform."""

    def __init__(self) -> None:
        super().__init__(delivered_after=0.01, read_after=0.02)
        self.times: list[float] = []

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        self.times.append(time.monotonic())
        return await super().send(request, http)


async def test_a_burst_to_one_sender_keeps_its_rate(settings: Settings) -> None:
    """240 WhatsApp templates at once from one number (80/s): spread over ~3 s, in step."""
    paced = settings.model_copy(update={"sandbox_pacing": True, "worker_concurrency": 2})
    app = create_app(paced)
    sandbox = RecordingSandbox()
    gateway(app).sandbox = sandbox
    template = {"type": "template", "template": {"name": "promo"}}
    async with LifespanManager(app):
        tenant = await make_tenant(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            batch = {
                "messages": [
                    {"channel": "whatsapp", "to": f"+1415555{i:04d}", "content": template}
                    for i in range(240)
                ]
            }
            response = await client.post(
                "/v1/messages/batch", json=batch, headers=auth(tenant.test)
            )
            assert response.json()["accepted"] == 240

            async def all_sent() -> bool:
                return len(sandbox.times) == 240

            await until(all_sent, limit=30)
    rate = DEFAULT_PACE[ChannelType.WHATSAPP].sender
    assert rate is not None
    # At most 1 % of sends may land in a window that already held the rate's worth.
    assert over_limit(sandbox.times, rate.amount) <= 0.01 * 240
    # Spread out, not trickled: 240 at 80/s take about two seconds past the first burst.
    assert sandbox.times[-1] - sandbox.times[0] >= 2.0


@pytest.mark.parametrize("redis_url", [None, *([REDIS_URL] if REDIS_URL else [])])
async def test_the_pacer_refuses_past_the_rate(redis_url: str | None) -> None:
    pacer = Pacer(redis_url)
    sender = f"s-{time.time_ns()}"
    pace = Pace(sender=Rate(5), recipient=Rate(2, 10))
    waits = [await pacer.reserve(sender, "alice", pace) for _ in range(3)]
    assert waits[:2] == [0.0, 0.0]
    assert 9 < waits[2] <= 10.03  # alice's pair limit: 2 per 10 s (plus a small guard)
    others = [await pacer.reserve(sender, f"user{i}", pace) for i in range(4)]
    assert others[:3] == [0.0, 0.0, 0.0]  # 5 per second for the sender in all
    assert 0 < others[3] <= 1.03
