"""What a running gateway holds: one of each, built in the lifespan, reached from requests."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import Request

from chatgate.api.ratelimit import RateLimiter
from chatgate.channels.sandbox import SandboxAdapter
from chatgate.config import Settings
from chatgate.engine.pacing import Pacer
from chatgate.engine.wakeup import LocalWakeup
from chatgate.services.key_cache import KeyCache
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


def gateway_of(request: Request) -> Gateway:
    """The gateway serving ``request``."""
    gateway: Gateway = request.app.state.gateway
    return gateway
