"""``chatgate emulate --gateway URL``: accounts can name their connection instead of a URL."""

from __future__ import annotations

import httpx
import pytest

from chatgate.emulators.app import create_emulator_app
from chatgate.emulators.core import EmulatorState

BOT = {"bot_token": "123456:TEST-token", "secret_token": "s3cret"}


def test_webhooks_resolve_against_the_gateway() -> None:
    state = EmulatorState(gateway_url="http://127.0.0.1:8000/")
    assert state.webhook_of({"connection_id": "ch_1"}) == "http://127.0.0.1:8000/inbound/ch_1"
    assert state.webhook_of({"webhook_url": "/inbound/ch_2"}) == (
        "http://127.0.0.1:8000/inbound/ch_2"
    )
    assert state.webhook_of({"webhook_url": "http://elsewhere/x"}) == "http://elsewhere/x"
    assert state.webhook_of({}) is None


def test_without_a_gateway_a_connection_id_is_refused() -> None:
    with pytest.raises(ValueError, match="--gateway"):
        EmulatorState().webhook_of({"connection_id": "ch_1"})


async def test_the_control_api_registers_by_connection_id() -> None:
    app = create_emulator_app(gateway_url="http://127.0.0.1:8000")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as http:
        added = await http.post(
            "/_emulator/telegram/accounts", json={**BOT, "connection_id": "ch_9"}
        )
        assert added.status_code == 201, added.text
        assert added.json()["webhook_url"] == "http://127.0.0.1:8000/inbound/ch_9"
    bare = create_emulator_app()
    transport = httpx.ASGITransport(app=bare)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as http:
        refused = await http.post(
            "/_emulator/telegram/accounts", json={**BOT, "connection_id": "ch_9"}
        )
        assert refused.status_code == 422
        assert "--gateway" in refused.text
