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
from chatgate.domain.pacing import Pace, Rate
from chatgate.engine.pacing import Pacer
from tests.conftest import REDIS_URL
from tests.support import auth, gateway, make_tenant, text_message, until


def busiest_window(times: list[float], seconds: float) -> int:
    """The most sends in any window of ``seconds`` (a sliding window over sorted times)."""
    times = sorted(times)
    return max(bisect_left(times, t + seconds) - i for i, t in enumerate(times))


class RecordingSandbox(SandboxAdapter):
    """The sandbox, noting when each send reached the platform."""

    def __init__(self) -> None:
        super().__init__(delivered_after=0.01, read_after=0.02)
        self.times: list[float] = []

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        self.times.append(time.monotonic())
        return await super().send(request, http)


async def test_a_burst_to_one_sender_keeps_its_rate(settings: Settings) -> None:
    """60 SMS at once to one sender (10/s by default): spread over ~6 s, never faster."""
    paced = settings.model_copy(update={"sandbox_pacing": True, "worker_concurrency": 2})
    app = create_app(paced)
    sandbox = RecordingSandbox()
    gateway(app).sandbox = sandbox
    async with LifespanManager(app):
        tenant = await make_tenant(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            batch = {"messages": [text_message(to=f"+1415555{i:04d}") for i in range(60)]}
            response = await client.post(
                "/v1/messages/batch", json=batch, headers=auth(tenant.test)
            )
            assert response.json()["accepted"] == 60

            async def all_sent() -> bool:
                return len(sandbox.times) == 60

            await until(all_sent, limit=30)
    rate = 10
    assert busiest_window(sandbox.times, 1.0) <= rate * 1.01
    # Spread out, not trickled: the burst takes about 60 / 10 seconds.
    assert sandbox.times[-1] - sandbox.times[0] >= 5.0


@pytest.mark.parametrize("redis_url", [None, *([REDIS_URL] if REDIS_URL else [])])
async def test_the_pacer_refuses_past_the_rate(redis_url: str | None) -> None:
    pacer = Pacer(redis_url)
    sender = f"s-{time.time_ns()}"
    pace = Pace(sender=Rate(5), recipient=Rate(2, 10))
    waits = [await pacer.reserve(sender, "alice", pace) for _ in range(3)]
    assert waits[:2] == [0.0, 0.0]
    assert 9 < waits[2] <= 10  # alice's pair limit: 2 per 10 s
    others = [await pacer.reserve(sender, f"user{i}", pace) for i in range(4)]
    assert others[:3] == [0.0, 0.0, 0.0]  # 5 per second for the sender in all
    assert 0 < others[3] <= 1
