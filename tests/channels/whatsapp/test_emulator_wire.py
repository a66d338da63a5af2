"""What the WhatsApp emulator takes and writes as Cloud API does: location coordinates as
numbers or strings, the context of a tapped button, and the error codes of its throttling."""

from __future__ import annotations

from typing import Any

import pytest

from tests.channels.whatsapp import contract
from tests.channels.whatsapp.world import world

MESSAGES = f"/graph/v21.0/{contract.PHONE_NUMBER_ID}/messages"
AUTH = {"Authorization": f"Bearer {contract.ACCESS_TOKEN}"}


@pytest.mark.parametrize(
    ("latitude", "longitude", "accepted"),
    [
        (38.7223, -9.1393, True),
        ("38.7223", "-9.1393", True),
        (38, "-9", True),
        ("north", "-9.1393", False),
        (True, -9.1393, False),
    ],
)
async def test_location_coordinates_are_numbers_or_strings_of_decimal_degrees(
    latitude: Any, longitude: Any, accepted: bool
) -> None:
    async with world() as w:
        await w.user_writes(text="oi")
        body = {
            "messaging_product": "whatsapp",
            "to": contract.RECIPIENT.lstrip("+"),
            "type": "location",
            "location": {"latitude": latitude, "longitude": longitude, "name": "Baixa"},
        }
        answer = await w.client.post(MESSAGES, json=body, headers=AUTH)
        if accepted:
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 400
            assert answer.json()["error"]["code"] == 131009
            assert answer.json()["error"]["error_data"]["details"] == (
                "location['latitude'] must be a number in decimal degrees"
            )


async def test_a_fault_may_ask_only_for_a_code_the_platform_has() -> None:
    async with world() as w:
        for code in (130429, 80007, 131056):
            queued = await w.client.post(
                "/_emulator/whatsapp/faults", json={"kind": "rate_limit", "code": code}
            )
            assert queued.status_code == 201, queued.text
        refused = await w.client.post(
            "/_emulator/whatsapp/faults", json={"kind": "rate_limit", "code": 613}
        )
        assert refused.status_code == 422
        assert refused.json()["detail"] == (
            "code: whatsapp answers a rate_limit fault with 130429, 80007, 131056"
        )
        other_kind = await w.client.post(
            "/_emulator/whatsapp/faults", json={"kind": "server_error", "code": 131000}
        )
        assert other_kind.status_code == 422


@pytest.mark.parametrize("kind", ["button_reply", "list_reply", "button"])
async def test_a_tap_names_the_message_it_answers(kind: str) -> None:
    async with world() as w:
        await w.user_writes(text="oi")
        body = {
            "messaging_product": "whatsapp",
            "to": contract.RECIPIENT.lstrip("+"),
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Did it arrive?"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]},
            },
        }
        sent = await w.client.post(MESSAGES, json=body, headers=AUTH)
        question = sent.json()["messages"][0]["id"]
        tap = await w.user_writes(reply={"kind": kind, "id": "yes", "title": "Yes"})
        [message] = tap["body"]["entry"][0]["changes"][0]["value"]["messages"]
        assert message["context"] == {"from": contract.DISPLAY_PHONE_NUMBER, "id": question}
        # A message the user typed answers nothing, unless the payload says so.
        typed = await w.user_writes(text="thanks")
        assert "context" not in typed["body"]["entry"][0]["changes"][0]["value"]["messages"][0]
