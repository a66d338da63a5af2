"""MessageHub tests: keys of the dialect, and users who wrote first (the sandbox's)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from tests.support import Tenant, auth, make_key, settings_for

BASE = "/compat/messagehub/api/v1"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Test settings whose webhooks may reach a receiver on this machine."""
    return settings_for(database_url, allow_private_webhooks=True)


@pytest.fixture
async def hub_key(app: FastAPI, tenant: Tenant) -> str:
    """A MessageHub test key (``cpk_test_…``) of every scope."""
    _, secret = await make_key(app, tenant.account_id, KeyMode.TEST, dialect=Dialect.MESSAGEHUB)
    return secret


async def user_writes(client: httpx.AsyncClient, tenant: Tenant, channel: str, user: str) -> None:
    """``user`` writes to the account first (sandbox), so that a conversation is open."""
    answer = await client.post(
        "/v1/sandbox/inbound",
        json={"channel": channel, "from": user, "content": {"type": "text", "text": "hi"}},
        headers=auth(tenant.test),
    )
    assert answer.status_code == 201, answer.text


async def hub_post(client: httpx.AsyncClient, secret: str, path: str, body: Any) -> httpx.Response:
    """A MessageHub POST, as its clients send it."""
    return await client.post(f"{BASE}/{path}", json=body, headers=auth(secret))
