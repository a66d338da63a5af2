"""Bik's tests: keys of the dialect, and a receiver's webhooks allowed on loopback."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from tests.compat.messagehub.conftest import settings
from tests.support import Tenant, make_key

__all__ = ["settings"]  # webhooks may reach a receiver on this machine
SEND = "/compat/bik/integrations/bikPlatformFunctions-messages/v2/sendMessage"
# The page's sample request, as printed (its number is a real Indian mobile number).
PAGE_CALLBACK_DATA = '{"order_id":"ORD123","campaign":"summer_sale"}'
PAGE_SAMPLE: dict[str, Any] = {
    "contactIdentifier": "+919900990090",
    "medium": "whatsapp",
    "type": "text",
    "payload": {"message": "This is a test message."},
    "callbackData": PAGE_CALLBACK_DATA,
}


@pytest.fixture
async def bik_test(app: FastAPI, tenant: Tenant) -> str:
    """A Bik test key (``bik_test_…``) of every scope: it reaches the sandbox."""
    _, secret = await make_key(app, tenant.account_id, KeyMode.TEST, dialect=Dialect.BIK)
    return secret


def basic(token: str) -> dict[str, str]:
    """``Authorization: Basic AUTH_TOKEN``, as the page sends it."""
    return {"Authorization": f"Basic {token}"}


def basic_pair(identifier: str, token: str) -> dict[str, str]:
    """Basic credentials built the usual way: ``base64(id:key)``."""
    pair = base64.b64encode(f"{identifier}:{token}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


async def bik_send(
    client: httpx.AsyncClient, token: str, body: Any, **headers: str
) -> httpx.Response:
    """A sendMessage call as Bik's clients make it."""
    return await client.post(SEND, json=body, headers={**basic(token), **headers})


def refusal(response: httpx.Response, status: int) -> list[str]:
    """The messages of a refusal in Bik's body, which must have ``status``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"status", "errors"}
    assert body["status"] == status
    assert body["errors"]
    assert all(set(entry) == {"message"} for entry in body["errors"])
    return [entry["message"] for entry in body["errors"]]
