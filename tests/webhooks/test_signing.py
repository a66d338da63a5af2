"""Chatgate's webhook signatures are Standard Webhooks', as the official package checks them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as OfficialError

from chatgate import webhooks
from chatgate.webhooks import WebhookVerificationError

BODY = '{"type":"message.status","data":{"text":"né 👋"}}'.encode()


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert webhooks.new_secret() != secret


def test_the_official_package_verifies_what_chatgate_signs() -> None:
    secret = webhooks.new_secret()
    headers = webhooks.sign([secret], "dlv_1", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers) == {
        "type": "message.status",
        "data": {"text": "né 👋"},
    }
    assert (
        Webhook(secret).sign(
            "dlv_1", datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC), BODY.decode()
        )
        == headers["webhook-signature"]
    )


def test_during_a_rotation_both_secrets_sign_and_each_verifies() -> None:
    old, new = webhooks.new_secret(), webhooks.new_secret()
    headers = webhooks.sign([new, old], "dlv_2", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)
        webhooks.verify(secret, headers, BODY)
    with pytest.raises(OfficialError):
        Webhook(webhooks.new_secret()).verify(BODY, headers)


def test_chatgate_verifies_what_the_official_package_signs() -> None:
    secret = webhooks.new_secret()
    now = int(time.time())
    signature = Webhook(secret).sign("dlv_3", datetime.fromtimestamp(now, UTC), BODY.decode())
    headers = {"Webhook-Id": "dlv_3", "Webhook-Timestamp": str(now), "Webhook-Signature": signature}
    assert webhooks.verify(secret, headers, BODY)["type"] == "message.status"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": BODY + b" "}, "no signature matches"),
        ({"webhook-id": "dlv_other"}, "no signature matches"),
        ({"webhook-signature": None}, "missing"),
    ],
)
def test_tampered_deliveries_are_refused(change: dict[str, object], reason: str) -> None:
    secret = webhooks.new_secret()
    headers: dict[str, str] = webhooks.sign([secret], "dlv_4", int(time.time()), BODY)
    body = BODY
    for name, value in change.items():
        if name == "body":
            body = value  # type: ignore[assignment]
        elif value is None:
            del headers[name]
        else:
            headers[name] = str(value)
    with pytest.raises(WebhookVerificationError, match=reason):
        webhooks.verify(secret, headers, body)


@pytest.mark.parametrize("offset", [-301, 301])
def test_deliveries_signed_too_far_from_now_are_refused(offset: int) -> None:
    secret = webhooks.new_secret()
    now = 1_800_000_000
    headers = webhooks.sign([secret], "dlv_5", now + offset, BODY)
    with pytest.raises(WebhookVerificationError, match="too far"):
        webhooks.verify(secret, headers, BODY, now=now)
    assert webhooks.verify(secret, headers, BODY, now=now + offset)


def test_the_plain_signature_is_the_hex_hmac_of_the_body() -> None:
    secret = webhooks.new_secret()
    headers = webhooks.sign([secret], "dlv_5", int(time.time()), BODY, plain=True)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = "sha256=" + hmac.new(key, BODY, hashlib.sha256).hexdigest()
    assert headers["X-Chatgate-Signature"] == expected
    assert "X-Chatgate-Signature" not in webhooks.sign([secret], "dlv_5", 1, BODY)
