"""What Thikaa answers: a send's receipt, an instance's status and the error body."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from chatgate.compat.dialect_app import error_responses
from chatgate.compat.thikaa.channels import ThikaaChannel
from chatgate.domain.keys import KeyMode


class SendAnswer(BaseModel):
    """A message accepted for delivery (the page shows no answer: Chatgate's decision)."""

    ok: Literal[True] = True
    message_id: str = Field(pattern=r"^msg_", description="Chatgate's id of the message")
    status: str = Field(description="the message's status now: queued", examples=["queued"])
    channel: ThikaaChannel = Field(description="the channel code as sent")
    to: str = Field(description="the recipient as the channel addresses it")


class ChannelState(BaseModel):
    """One of the instance's channels."""

    channel: ThikaaChannel
    connected: bool = Field(description="whether a message on it can be sent now")
    status: Literal["connected", "not_connected", "sandbox"] = Field(
        description="connected; not_connected (no working connection on the account); "
        "sandbox (a test key: every channel is simulated)"
    )


class Balance(BaseModel):
    """The account's credit: what outbound messages are paid from."""

    amount: float = Field(description="in units of the currency, e.g. 12.5")
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["USD"])


class StatusAnswer(BaseModel):
    """``GET ?action=status``: the instance (the key), its channels and the balance."""

    ok: Literal[True] = True
    instance_id: str = Field(pattern=r"^inst_", description="stable id of this key")
    mode: KeyMode = Field(description="live, or test (sandbox only)")
    channels: list[ChannelState]
    balance: Balance


class ErrorDetail(BaseModel):
    """What went wrong; the message names the field it is about."""

    code: str = Field(examples=["channel_not_allowed"])
    message: str


class ErrorAnswer(BaseModel):
    """Every refusal."""

    ok: Literal[False] = False
    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Bad input: the message names the field",
    401: "Missing / invalid / revoked key (or not this account's)",
    402: "Out of credit",
    403: "Channel not allowed for this key",
    409: "Channel can't initiate (the customer must message first), WhatsApp Direct not "
    "connected, or another rule of the channel",
    429: "Rate limit (default 60/min per key); see Retry-After",
    500: "An unexpected error, logged",
}
ERROR_RESPONSES = error_responses(ErrorAnswer, _DESCRIPTIONS)


def instance_id(key_id: str) -> str:
    """The instance id of a key: ``inst_`` and the key's own stable id."""
    return "inst_" + key_id.removeprefix("key_")
