"""What a running gateway holds: one of each, built in the lifespan, reached from requests."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from fastapi import Request

from chatgate.api.ratelimit import RateLimiter
from chatgate.channels.sandbox import SandboxAdapter
from chatgate.config import Settings
from chatgate.engine.pacing import Pacer
from chatgate.engine.wakeup import LocalWakeup
from chatgate.services.billing import Billing
from chatgate.services.channels import ChannelService
from chatgate.services.event_feed import EventFeed
from chatgate.services.key_cache import KeyCache
from chatgate.services.sessions import SessionService
from chatgate.services.webhook_endpoints import WebhookEndpoints
from chatgate.storage.database import Database


@dataclass(slots=True)
class Gateway:
    """The process-wide services every request uses."""

    settings: Settings
    database: Database
    key_cache: KeyCache
    limiter: RateLimiter
    wakeup: LocalWakeup
    sandbox: SandboxAdapter
    pacer: Pacer
    http: httpx.AsyncClient
    channels: ChannelService
    event_feed: EventFeed
    webhook_endpoints: WebhookEndpoints
    # Wakes this process's webhook sender when deliveries are queued.
    webhook_wakeup: LocalWakeup
    billing: Billing
    sessions: SessionService
    # (account id, Idempotency-Key) of the requests this process is running now.
    idempotency_in_flight: set[tuple[str, str]] = field(default_factory=set)


def gateway_of(request: Request) -> Gateway:
    """The gateway serving ``request``."""
    gateway: Gateway = request.app.state.gateway
    return gateway
