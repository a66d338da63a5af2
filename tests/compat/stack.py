"""What the dialects' process tests share: keys made over the running gateway's API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.world import Stack
from tests.support import auth


def dialect_key(http: httpx.Client, stack: Stack, **body: Any) -> str:
    """A key made with ``POST /v1/keys`` (``body``: its dialect, mode, limits); its secret."""
    made = http.post("/v1/keys", json={"name": "dialect", **body}, headers=auth(stack.secret))
    assert made.status_code == 201, made.text
    secret: str = made.json()["key"]
    return secret
