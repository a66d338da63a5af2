"""WhautoChat tests: an account with WhautoChat test keys, its contacts, and its users."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from tests.support import Tenant, auth, make_key

BASE = "/compat/whautochat/v1/messages"


def wac_headers(secret: str) -> dict[str, str]:
    """The header WhautoChat's clients send their key in."""
    return {"x-api-key": secret}


@pytest.fixture
async def wac_key(app: FastAPI, tenant: Tenant) -> str:
    """A WhautoChat test key (``wac_test_…``) of every scope."""
    _, secret = await make_key(app, tenant.account_id, KeyMode.TEST, dialect=Dialect.WHAUTOCHAT)
    return secret


async def wac_post(client: httpx.AsyncClient, secret: str, route: str, body: Any) -> httpx.Response:
    """A WhautoChat POST to ``route`` (``whatsapp/sendtext``), as its clients send it."""
    return await client.post(f"{BASE}/{route}", json=body, headers=wac_headers(secret))


async def contact_on(
    client: httpx.AsyncClient, secret: str, identities: list[dict[str, str]]
) -> str:
    """A contact of the native (test) key ``secret`` with ``identities``; its id."""
    made = await client.post(
        "/v1/contacts", json={"name": "Ada", "identities": identities}, headers=auth(secret)
    )
    assert made.status_code == 201, made.text
    contact_id: str = made.json()["id"]
    return contact_id


def refused(answer: httpx.Response, status: int, field: str | None) -> str:
    """Assert a ``MessageResponse`` refusal with ``status`` whose error names ``field`` (or,
    with ``None``, is about no field); the error."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body == {"id": None, "status": "failed", "error": body["error"]}
    error: str = body["error"]
    if field is not None:
        assert error.startswith(f"{field}: "), error
    return error
