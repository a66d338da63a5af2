"""An ``sms`` connection through the gateway's API: creation, and Twilio's webhooks in."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from tests.api.test_validation import assert_envelope
from tests.channels.sms import contract
from tests.support import Tenant, auth

# Loopback, nothing listening: a send attempted by the worker never leaves the machine.
NOWHERE = "http://127.0.0.1:9"


def _twilio_channel(**credentials: Any) -> dict[str, Any]:
    return {
        "type": "sms",
        "name": "twilio line",
        "credentials": {
            "provider": "twilio",
            "account_sid": contract.ACCOUNT_SID,
            "auth_token": contract.AUTH_TOKEN,
            "from_number": contract.FROM_NUMBER,
            **credentials,
        },
        "settings": {"api_base": NOWHERE},
    }


async def test_smpp_credentials_are_taken_at_creation(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {
        "type": "sms",
        "name": "smsc",
        "credentials": {
            "provider": "smpp",
            # An address, not a name: tests look nothing up in the DNS.
            "host": "127.0.0.1",
            "port": 2775,
            "system_id": "chatgate",
            "password": "secret",
            "source_addr": "Chatgate",
        },
    }
    created = await client.post("/v1/channels", json=body, headers=auth(tenant.live))
    assert created.status_code == 201, created.text
    assert created.json()["credentials_set"] == [
        "host",
        "password",
        "port",
        "provider",
        "source_addr",
        "system_id",
    ]


async def test_a_twilio_credential_missing_is_named(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = _twilio_channel()
    del body["credentials"]["from_number"]
    refused = await client.post("/v1/channels", json=body, headers=auth(tenant.live))
    assert_envelope(refused, 422, "invalid_request", "credentials.from_number")


async def test_a_twilio_webhook_is_verified_over_the_public_url_and_answered_with_twiml(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await client.post("/v1/channels", json=_twilio_channel(), headers=auth(tenant.live))
    assert created.status_code == 201, created.text
    channel = created.json()
    assert channel["credentials_set"] == ["account_sid", "auth_token", "from_number", "provider"]
    assert channel["webhook_registered"] is False
    sid = "SM" + "7e" * 16
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "AccountSid": contract.ACCOUNT_SID,
        "From": "+14155550177",
        "To": contract.FROM_NUMBER,
        "Body": "Hello 👋",
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
    }
    body = urlencode(params).encode()
    # Twilio signs the URL it was given: the connection's inbound URL.
    signature = contract.twilio_signature(
        contract.AUTH_TOKEN, channel["inbound_url"], list(params.items())
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    path = f"/inbound/{channel['id']}"
    forged = await client.post(
        path, content=body, headers={**headers, "X-Twilio-Signature": "AAAA"}
    )
    assert_envelope(forged, 401, "invalid_signature", None)
    answered = await client.post(
        path, content=body, headers={**headers, "X-Twilio-Signature": signature}
    )
    assert answered.status_code == 200
    assert answered.headers["content-type"].startswith("text/xml")
    assert answered.content.endswith(b"<Response/>")
    listed = await client.get(
        "/v1/messages", params={"direction": "inbound", "channel": "sms"}, headers=auth(tenant.live)
    )
    [message] = [m for m in listed.json()["data"] if m["provider_message_id"] == sid]
    assert (message["from"], message["content"]) == (
        "+14155550177",
        {"type": "text", "text": "Hello 👋"},
    )
