"""Webhook formats: what a delivery's body is and how it is signed, per endpoint.

Every endpoint has a format. ``standard`` is Chatgate's own: the event envelope, signed as
Standard Webhooks says (:mod:`chatgate.webhooks`). A dialect (``chatgate.compat``) adds the
format its vendor documents, so that the vendor's own receiving code works unchanged: its
payload shape, its headers and its signature. A format may leave out events its vendor has
no shape for: such an endpoint gets no delivery for them.

The fan-out asks an endpoint's format for each event's body (stored with the delivery, so
every retry and replay sends the same bytes); the sender asks it for the headers of each
attempt. Retries, stable ids, replay and the SSRF guard are those of every endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from chatgate import webhooks
from chatgate.domain.dialects import Dialect
from chatgate.services.events import event_payload
from chatgate.storage.events import LoggedEvent
from chatgate.storage.webhook_endpoints import StoredEndpoint

STANDARD = "standard"


@dataclass(frozen=True, slots=True)
class Signing:
    """What one attempt's headers are made from."""

    # The endpoint's signing secrets, newest first, as shown when made or rotated.
    secrets: Sequence[str]
    delivery_id: str
    event_type: str
    timestamp: int
    body: bytes


class WebhookFormat(Protocol):
    """A delivery body and signature scheme."""

    @property
    def name(self) -> str:
        """How endpoints name it: ``standard`` or a dialect's name."""

    @property
    def dialect(self) -> Dialect | None:
        """The dialect whose keys an endpoint of this format may be bound to."""

    @property
    def requires_key(self) -> bool:
        """Whether an endpoint of this format must be bound to one of the dialect's keys
        (its payloads name the key, as a vendor's "instance")."""

    def payload(self, event: LoggedEvent, endpoint: StoredEndpoint) -> dict[str, Any] | None:
        """The body ``endpoint`` gets for ``event``, or ``None`` for none."""

    def headers(self, signing: Signing, endpoint: StoredEndpoint) -> dict[str, str]:
        """The headers of one attempt (its signature among them)."""


class StandardFormat:
    """Chatgate's own: the event envelope, Standard Webhooks signatures."""

    name = STANDARD
    dialect: Dialect | None = None
    requires_key = False

    def payload(self, event: LoggedEvent, endpoint: StoredEndpoint) -> dict[str, Any] | None:
        """The event as the API shows it."""
        return event_payload(event)

    def headers(self, signing: Signing, endpoint: StoredEndpoint) -> dict[str, str]:
        """``webhook-id``, ``webhook-timestamp``, ``webhook-signature`` (and the plain form
        when the endpoint asked for it)."""
        return webhooks.sign(
            signing.secrets,
            signing.delivery_id,
            signing.timestamp,
            signing.body,
            plain=endpoint.plain_signature,
        )


def body_hmac(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the raw body>``, keyed with the secret string's own bytes:
    how vendors' receivers (and their sample code) check a delivery."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookFormats:
    """The formats a gateway knows, by name."""

    def __init__(self, formats: Iterable[WebhookFormat] = ()) -> None:
        self._formats: dict[str, WebhookFormat] = {STANDARD: StandardFormat()}
        for format_ in formats:
            self._formats[format_.name] = format_

    def __getitem__(self, name: str) -> WebhookFormat:
        # A format no longer served (a row written by a newer version) falls back to the
        # standard one rather than stopping deliveries.
        return self._formats.get(name) or self._formats[STANDARD]

    def names(self) -> list[str]:
        """Every format's name, ``standard`` first."""
        return list(self._formats)

    def known(self, name: str) -> WebhookFormat | None:
        """The format called ``name``, if there is one."""
        return self._formats.get(name)
