"""Instagram messaging, as the shared contract suite needs to know it."""

from __future__ import annotations

from typing import Any

from chatgate.channels import meta
from chatgate.channels.base import ChannelAdapter, ChannelSettings
from chatgate.channels.instagram import InstagramAdapter, InstagramCredentials
from chatgate.domain.status import Status
from chatgate.emulators.meta_messaging import meta_json
from tests.channels.contract import ContractSpec

# An Instagram professional account and a customer, as in Meta's examples.
IG_USER_ID = "17841405822304914"
IGSID = "848067418322071"
ACCESS_TOKEN = "IGAAR-test-instagram-user-token"
APP_SECRET = "instagram-app-secret-0123456789"
VERIFY_TOKEN = "instagram-verify-token"


def credentials() -> InstagramCredentials:
    """The test account's credentials."""
    return InstagramCredentials.model_validate(
        {
            "access_token": ACCESS_TOKEN,
            "ig_user_id": IG_USER_ID,
            "app_secret": APP_SECRET,
            "verify_token": VERIFY_TOKEN,
        }
    )


def make_adapter(api_base: str) -> ChannelAdapter[InstagramCredentials]:
    """The adapter of the test account, calling ``api_base``."""
    return InstagramAdapter(credentials(), ChannelSettings(api_base=api_base))


def emulator_account(webhook_url: str | None = None) -> dict[str, str]:
    """The control-API payload registering the test account."""
    account = {
        "ig_user_id": IG_USER_ID,
        "access_token": ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
    }
    if webhook_url is not None:
        account["webhook_url"] = webhook_url
    return account


def status_webhook(name: str, message_id: str) -> dict[str, Any]:
    """A receipt webhook: Instagram names the message seen (``messaging_seen``)."""
    receipt: dict[str, Any] = {"mid": message_id}
    if name == "delivery":
        receipt = {"mids": [message_id], "watermark": 1718111009800}
    event = {
        "sender": {"id": IGSID},
        "recipient": {"id": IG_USER_ID},
        "timestamp": 1718111010000,
        name: receipt,
    }
    return {
        "object": "instagram",
        "entry": [{"id": IG_USER_ID, "time": 1718111010500, "messaging": [event]}],
    }


SPEC = ContractSpec(
    platform="instagram",
    make_adapter=make_adapter,
    emulator_prefix="/graph",
    emulator_account=emulator_account(),
    recipient=IGSID,
    user_writes={"ig_user_id": IG_USER_ID, "from": IGSID, "text": "Oi! Tudo bem? 😊"},
    sign=lambda body: {"x-hub-signature-256": meta.sign(APP_SECRET, body)},
    sign_wrongly=lambda body: {"x-hub-signature-256": meta.sign("not-the-app-secret", body)},
    # Instagram has no asynchronous failures: async_failure is refused at send like permanent.
    fault_codes={
        "server_error": "2",
        "timeout": "timeout",
        "rate_limit": "613",
        "permanent": "100",
        "invalid_recipient": "100/2018001",
        "async_failure": "100",
    },
    statuses={"read": Status.READ, "delivery": Status.UNKNOWN, "seen": Status.UNKNOWN},
    status_webhook=status_webhook,
    serialize=meta_json,
    verify_token=VERIFY_TOKEN,
    # A customer with a thread follows an ig.me link.
    unknown_fixture="referral",
)
