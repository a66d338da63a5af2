"""Bodies of ``/v1/webhooks``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, Field, StringConstraints

from chatgate.api.schemas.common import ApiModel, ZonedDateTime
from chatgate.api.schemas.events import EventType
from chatgate.domain.content import Boolean
from chatgate.domain.dialects import Dialect
from chatgate.domain.schema_rules import HTTP_URL_PATTERN
from chatgate.storage.webhook_deliveries import Attempt, Delivery
from chatgate.storage.webhook_endpoints import StoredEndpoint

_URL = "where to POST events: http or https"
_EVENT_TYPES = "the event types to receive; null (or absent when creating) for all of them"
_DESCRIPTION = r"^[^\x00-\x1f]*$"
_FORMAT = (
    "the deliveries' shape and signature: standard (Standard Webhooks), or a dialect's (its "
    "vendor's payloads, headers and signature keyed with the secret string as shown)"
)
# Standard, or a dialect's (one this gateway serves: checked when the endpoint is saved).
WebhookFormatName = Literal["standard"] | Dialect


def _http_url(value: str) -> str:
    AnyHttpUrl(value)  # raises on anything but a well-formed http(s) URL
    return value


WebhookUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2048, pattern=HTTP_URL_PATTERN),
    AfterValidator(_http_url),
    Field(description=_URL, json_schema_extra={"format": "uri"}),
]


class CreateWebhookRequest(ApiModel):
    """A new endpoint."""

    url: WebhookUrl
    event_types: list[EventType] | None = Field(
        default=None, description=_EVENT_TYPES, max_length=20
    )
    description: str | None = Field(default=None, max_length=200, pattern=_DESCRIPTION)
    api_key_id: str | None = Field(
        default=None,
        pattern=r"^key_[0-9A-Z]{26}$",
        description="only the events of this key's messages (and of inbound messages on the "
        "channels it may use)",
    )
    enabled: Boolean = True
    plain_signature: Boolean = Field(
        default=False,
        description="also sign with X-Chatgate-Signature: sha256=<hex HMAC of the body>",
    )
    format: WebhookFormatName = Field(default="standard", description=_FORMAT)


class UpdateWebhookRequest(ApiModel):
    """Changes to an endpoint: only the fields given change (``event_types: null`` is all;
    ``api_key_id: null`` unbinds)."""

    url: WebhookUrl | None = None
    event_types: list[EventType] | None = Field(
        default=None, description=_EVENT_TYPES, max_length=20
    )
    description: str | None = Field(default=None, max_length=200, pattern=_DESCRIPTION)
    api_key_id: str | None = Field(default=None, pattern=r"^key_[0-9A-Z]{26}$")
    enabled: Boolean | None = Field(
        default=None, description="true enables a disabled endpoint and clears its failures"
    )
    plain_signature: Boolean | None = None
    format: WebhookFormatName | None = Field(default=None, description=_FORMAT)


class ReplayRequest(ApiModel):
    """Which undelivered deliveries to send again."""

    since: ZonedDateTime = Field(
        description="every delivery made since then that has not been delivered, "
        "failed or pending in its retry schedule"
    )


class WebhookOut(BaseModel):
    """An endpoint as the API shows it: never its secret, once created."""

    id: str = Field(examples=["we_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    event_types: list[str] | None
    description: str | None
    api_key_id: str | None
    enabled: bool
    disabled_reason: str | None = Field(description="by_request, gone (410) or failing")
    plain_signature: bool
    format: str = Field(description=_FORMAT)
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: StoredEndpoint) -> WebhookOut:
        """The API's view of a stored endpoint."""
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            event_types=list(endpoint.event_types) if endpoint.event_types is not None else None,
            description=endpoint.description,
            api_key_id=endpoint.api_key_id,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            plain_signature=endpoint.plain_signature,
            format=endpoint.format,
            failing_since=endpoint.failing_since,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )


class WebhookWithSecret(WebhookOut):
    """An endpoint just made, or its secret just rotated: the only time the secret shows."""

    secret: str | None = Field(
        description="whsec_…: verify deliveries with it; null when an Idempotency-Key replays"
    )


class WebhookList(BaseModel):
    """The account's endpoints."""

    object: Literal["list"] = "list"
    data: list[WebhookOut]


class AttemptOut(BaseModel):
    """One try of a delivery."""

    at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None = Field(description="the first 1 KiB of the answer")
    error: str | None

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptOut:
        """The API's view of an attempt."""
        return cls(
            at=attempt.attempted_at,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            response_excerpt=attempt.response_excerpt,
            error=attempt.error,
        )


class DeliveryOut(BaseModel):
    """One event's delivery to one endpoint; its id is the ``webhook-id`` header."""

    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    endpoint_id: str
    event_id: str | None
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[AttemptOut]

    @classmethod
    def of(cls, delivery: Delivery, attempts: list[Attempt]) -> DeliveryOut:
        """The API's view of a delivery and its attempts."""
        return cls(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            status=delivery.status,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            finished_at=delivery.finished_at,
            attempts=[AttemptOut.of(a) for a in attempts],
        )


class DeliveryList(BaseModel):
    """A page of an endpoint's deliveries, newest first."""

    object: Literal["list"] = "list"
    data: list[DeliveryOut]
    has_more: bool
    next_cursor: str | None


class Replayed(BaseModel):
    """How many deliveries were queued again."""

    replayed: int
