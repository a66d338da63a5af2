"""The sandbox channel: simulated delivery for test keys and the demo.

Test keys never reach a platform. The sandbox takes any channel's message, answers like a
platform would and reports ``delivered`` and ``read`` after settable delays. It can be told
to fail, per message or by recipient:

- ``metadata.sandbox.fail``: ``invalid_recipient`` or ``rejected`` (refused at send,
  permanent), ``undeliverable`` (sent, then failed like an asynchronous platform error),
  ``unavailable`` (a retryable outage: every attempt fails).
- ``metadata.sandbox.delivered_after`` / ``read_after``: seconds, overriding the defaults.
- ``metadata.sandbox.latency``: seconds the simulated platform takes to answer.

With ``record_path`` set, every accepted send is appended to that file as one line, the way
a platform would log what it received; the line is written before the answer, so it
survives the sending process being killed right after (the chaos test counts on it).
- Magic phone numbers (Twilio-style test numbers): ``+15005550001`` invalid recipient,
  ``+15005550002`` undeliverable, ``+15005550003`` rejected, ``+15005550004`` unavailable.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Mapping
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatgate.channels.base import (
    ChannelAdapter,
    ExpectedReceipt,
    OutboundMessage,
    ProviderError,
    ProviderRequest,
    SendResult,
)
from chatgate.domain.status import Status

Failure = Literal["invalid_recipient", "rejected", "undeliverable", "unavailable"]

MAGIC_RECIPIENTS: Mapping[str, Failure] = {
    "+15005550001": "invalid_recipient",
    "+15005550002": "undeliverable",
    "+15005550003": "rejected",
    "+15005550004": "unavailable",
}

_FAILURE_TEXT: Mapping[Failure, str] = {
    "invalid_recipient": "the recipient does not exist on this channel",
    "rejected": "the platform refused the message",
    "undeliverable": "the message could not be delivered to the recipient's device",
    "unavailable": "the platform is temporarily unavailable",
}


class SandboxOptions(BaseModel):
    """``metadata.sandbox``: how the sandbox should treat one message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fail: Failure | None = None
    delivered_after: float | None = Field(default=None, ge=0, le=3600)
    read_after: float | None = Field(default=None, ge=0, le=3600)
    latency: float | None = Field(default=None, ge=0, le=60)


class InvalidSandboxOptions(ValueError):
    """``metadata.sandbox`` does not fit :class:`SandboxOptions`."""


def sandbox_options(metadata: Mapping[str, Any] | None) -> SandboxOptions:
    """Read ``metadata.sandbox``; raise :class:`InvalidSandboxOptions` naming the bad field."""
    raw = (metadata or {}).get("sandbox")
    if raw is None:
        return SandboxOptions()
    try:
        return SandboxOptions.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = ".".join(str(part) for part in error["loc"])
        field = "metadata.sandbox" + (f".{location}" if location else "")
        raise InvalidSandboxOptions(f"{field}: {error['msg']}") from exc


class NoCredentials(BaseModel):
    """The sandbox needs no secrets."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SandboxAdapter(ChannelAdapter[NoCredentials]):
    """Simulates any channel without a network call."""

    name = "sandbox"
    credentials_model = NoCredentials

    def __init__(
        self,
        delivered_after: float,
        read_after: float,
        *,
        latency: float = 0.0,
        record_path: str | None = None,
    ) -> None:
        super().__init__(NoCredentials())
        self.delivered_after = delivered_after
        self.read_after = read_after
        self.latency = latency
        self._record = (
            os.open(record_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            if record_path
            else None
        )

    def close(self) -> None:
        """Close the record file, if any."""
        if self._record is not None:
            os.close(self._record)
            self._record = None

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """Decide the simulated outcome; raises :class:`InvalidSandboxOptions`."""
        options = sandbox_options(message.metadata)
        failure = options.fail or MAGIC_RECIPIENTS.get(message.recipient)
        delivered_after = (
            self.delivered_after if options.delivered_after is None else options.delivered_after
        )
        read_after = self.read_after if options.read_after is None else options.read_after
        return ProviderRequest(
            method="POST",
            url=f"sandbox://{message.channel}/messages",
            json={"to": message.recipient, "content": dict(message.content)},
            context={
                "message_id": message.id,
                "latency": self.latency if options.latency is None else options.latency,
                "failure": failure,
                "delivered_after": delivered_after,
                "read_after": max(read_after, delivered_after),
            },
        )

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Answer as a platform would, without touching the network."""
        latency: float = request.context["latency"]
        if latency:
            await asyncio.sleep(latency)
        failure: Failure | None = request.context["failure"]
        if failure in ("invalid_recipient", "rejected", "unavailable"):
            raise ProviderError(
                failure,
                _FAILURE_TEXT[failure],
                retryable=failure == "unavailable",
                status_code=503 if failure == "unavailable" else 400,
            )
        delivered_after: float = request.context["delivered_after"]
        if failure == "undeliverable":
            receipts: tuple[ExpectedReceipt, ...] = (
                ExpectedReceipt(
                    delivered_after,
                    Status.FAILED,
                    {"code": failure, "message": _FAILURE_TEXT[failure]},
                ),
            )
        else:
            receipts = (
                ExpectedReceipt(delivered_after, Status.DELIVERED),
                ExpectedReceipt(request.context["read_after"], Status.READ),
            )
        provider_id = f"sbx_{secrets.token_hex(12)}"
        if self._record is not None:
            # One write() of one short line: O_APPEND keeps concurrent lines whole.
            os.write(self._record, f"{request.context['message_id']} {provider_id}\n".encode())
        return SendResult(provider_message_id=provider_id, receipts=receipts)
