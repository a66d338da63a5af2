"""Messenger, as the shared contract suite needs to know it."""

from __future__ import annotations

from typing import Any

from chatgate.channels import meta
from chatgate.channels.base import ChannelAdapter, ChannelSettings
from chatgate.channels.messenger import MessengerAdapter, MessengerCredentials
from chatgate.domain.status import Status
from chatgate.emulators.meta_messaging import meta_json
from tests.channels.contract import ContractSpec

# The example Page and person of Meta's Messenger references.
PAGE_ID = "682498302938465"
PSID = "1254477777772919"
PAGE_ACCESS_TOKEN = "EAAG-test-page-access-token"
APP_SECRET = "messenger-app-secret-0123456789"
VERIFY_TOKEN = "messenger-verify-token"


def credentials() -> MessengerCredentials:
    """The test Page's credentials."""
    return MessengerCredentials.model_validate(
        {
            "page_access_token": PAGE_ACCESS_TOKEN,
            "page_id": PAGE_ID,
            "app_secret": APP_SECRET,
            "verify_token": VERIFY_TOKEN,
        }
    )


def make_adapter(api_base: str) -> ChannelAdapter[MessengerCredentials]:
    """The adapter of the test Page, calling ``api_base``."""
    return MessengerAdapter(credentials(), ChannelSettings(api_base=api_base))


def emulator_account(webhook_url: str | None = None) -> dict[str, str]:
    """The control-API payload registering the test Page."""
    account = {
        "page_id": PAGE_ID,
        "page_access_token": PAGE_ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
    }
    if webhook_url is not None:
        account["webhook_url"] = webhook_url
    return account


def status_webhook(name: str, message_id: str) -> dict[str, Any]:
    """A receipt webhook: a delivery names its messages, a read only has a watermark."""
    receipt: dict[str, Any] = {"watermark": 1718111009800}
    if name == "delivery":
        receipt["mids"] = [message_id]
    event = {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1718111010000,
        name: receipt,
    }
    return {
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": 1718111010500, "messaging": [event]}],
    }


SPEC = ContractSpec(
    platform="messenger",
    make_adapter=make_adapter,
    emulator_prefix="/graph",
    emulator_account=emulator_account(),
    recipient=PSID,
    user_writes={"page_id": PAGE_ID, "from": PSID, "text": "Bonjour, ça va ? 👋"},
    sign=lambda body: {"x-hub-signature-256": meta.sign(APP_SECRET, body)},
    sign_wrongly=lambda body: {"x-hub-signature-256": meta.sign("not-the-app-secret", body)},
    # Messenger has no asynchronous failures: async_failure is refused at send like permanent.
    fault_codes={
        "server_error": "2",
        "timeout": "timeout",
        "rate_limit": "613",
        "permanent": "100",
        "invalid_recipient": "100/2018001",
        "async_failure": "100",
    },
    statuses={"delivery": Status.DELIVERED, "read": Status.READ, "seen": Status.UNKNOWN},
    status_webhook=status_webhook,
    serialize=meta_json,
    verify_token=VERIFY_TOKEN,
    # A person edits a message they sent.
    unknown_fixture="message_edit",
)
