"""WhatsApp Cloud API, as the shared contract suite needs to know it."""

from __future__ import annotations

from typing import Any

from chatgate.channels import meta
from chatgate.channels.base import ChannelAdapter, ChannelSettings
from chatgate.channels.whatsapp_cloud import WhatsAppCloudAdapter, WhatsAppCredentials
from chatgate.domain.status import Status
from chatgate.emulators.whatsapp import meta_json
from tests.channels.contract import ContractSpec

# The example business of Meta's webhook reference.
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "15550783881"
WABA_ID = "102290129340398"
ACCESS_TOKEN = "EAAJB-test-access-token"
APP_SECRET = "wa-app-secret-0123456789abcdef"
VERIFY_TOKEN = "wa-verify-token"
RECIPIENT = "+14155550123"


def credentials() -> WhatsAppCredentials:
    """The test number's credentials."""
    return WhatsAppCredentials.model_validate(
        {
            "access_token": ACCESS_TOKEN,
            "phone_number_id": PHONE_NUMBER_ID,
            "app_secret": APP_SECRET,
            "verify_token": VERIFY_TOKEN,
        }
    )


def make_adapter(api_base: str) -> ChannelAdapter[WhatsAppCredentials]:
    """The adapter of the test number, calling ``api_base``."""
    return WhatsAppCloudAdapter(credentials(), ChannelSettings(api_base=api_base))


def channel_body(api_base: str, name: str = "shop") -> dict[str, Any]:
    """``POST /v1/channels``'s body connecting the test number at ``api_base``."""
    return {
        "type": "whatsapp",
        "name": name,
        "credentials": {
            "access_token": ACCESS_TOKEN,
            "phone_number_id": PHONE_NUMBER_ID,
            "app_secret": APP_SECRET,
            "verify_token": VERIFY_TOKEN,
        },
        "settings": {"api_base": api_base},
    }


def emulator_account(webhook_url: str | None = None) -> dict[str, str]:
    """The control-API payload registering the test number."""
    account = {
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "display_phone_number": DISPLAY_PHONE_NUMBER,
        "waba_id": WABA_ID,
    }
    if webhook_url is not None:
        account["webhook_url"] = webhook_url
    return account


def status_webhook(name: str, message_id: str) -> dict[str, Any]:
    """A status webhook as Cloud API sends it, reduced to what every status carries."""
    status = {
        "id": message_id,
        "status": name,
        "timestamp": "1718112000",
        "recipient_id": RECIPIENT.lstrip("+"),
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": DISPLAY_PHONE_NUMBER,
            "phone_number_id": PHONE_NUMBER_ID,
        },
        "statuses": [status],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


SPEC = ContractSpec(
    platform="whatsapp",
    make_adapter=make_adapter,
    emulator_prefix="/graph",
    emulator_account=emulator_account(),
    recipient=RECIPIENT,
    user_writes={"phone_number_id": PHONE_NUMBER_ID, "from": RECIPIENT, "text": "Olá 👋"},
    sign=lambda body: {"x-hub-signature-256": meta.sign(APP_SECRET, body)},
    sign_wrongly=lambda body: {"x-hub-signature-256": meta.sign("not-the-app-secret", body)},
    fault_codes={
        "server_error": "131000",
        "timeout": "timeout",
        "rate_limit": "130429",
        "permanent": "100",
    },
    # Accepted, then reported failed by a status webhook: 131026, message undeliverable.
    async_fault_codes={"invalid_recipient": "131026", "async_failure": "131026"},
    statuses={
        "sent": Status.SENT,
        "delivered": Status.DELIVERED,
        "read": Status.READ,
        "played": Status.READ,
        "failed": Status.FAILED,
        "deleted": Status.UNKNOWN,
    },
    status_webhook=status_webhook,
    serialize=meta_json,
    verify_token=VERIFY_TOKEN,
    # Another subscribed field than messages: a template's review.
    unknown_fixture="template_status_update",
)
