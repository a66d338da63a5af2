"""Customer webhook endpoints: create, change, remove, rotate the signing secret, ping.

An endpoint belongs to an account and to the mode of the key that made it (test keys'
endpoints receive test events). Its URL passes the SSRF guard when it is set and again on
every delivery. Its signing secret is shown once, when it is made or rotated; stored
encrypted, it never appears in a response again. After a rotation the old secret keeps
signing beside the new one for ``ROTATION_OVERLAP``, so receivers can switch without a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate import webhooks
from chatgate.crypto import CredentialBox
from chatgate.domain.ids import new_id
from chatgate.domain.records import ApiKey
from chatgate.errors import InvalidRequest, NotFound
from chatgate.net_guard import Resolver, UnsafeURL, check_url, system_resolver
from chatgate.services.events import event_envelope
from chatgate.storage import keys as key_store
from chatgate.storage import webhook_deliveries as delivery_store
from chatgate.storage import webhook_endpoints as endpoint_store
from chatgate.storage.webhook_deliveries import Delivery
from chatgate.storage.webhook_endpoints import StoredEndpoint

ROTATION_OVERLAP = timedelta(hours=24)
PING_EVENT = "webhook.ping"
_OPENED_CACHE = 1024


@dataclass(frozen=True, slots=True)
class EndpointChanges:
    """What a request sets on an endpoint; ``None`` leaves a field as it is."""

    url: str | None = None
    description: str | None = None
    event_types: tuple[str, ...] | None = None
    all_event_types: bool = False
    api_key_id: str | None = None
    unbind_key: bool = False
    enabled: bool | None = None
    plain_signature: bool | None = None


class WebhookEndpoints:
    """Manages endpoints with one deployment's key box and URL policy."""

    def __init__(
        self, box: CredentialBox, *, allow_private: bool, resolver: Resolver = system_resolver
    ) -> None:
        self.box = box
        self.allow_private = allow_private
        self.resolver = resolver
        self._opened: dict[bytes, dict[str, Any]] = {}

    def signing_secrets(self, endpoint: StoredEndpoint, now: datetime) -> list[str]:
        """The secrets that sign a delivery now: the current one, then a rotated-out one."""
        sealed = self._opened.get(endpoint.sealed_secrets)
        if sealed is None:
            # Decrypted once per version of the secrets, not once per delivery.
            if len(self._opened) >= _OPENED_CACHE:
                self._opened.clear()
            sealed = self._opened[endpoint.sealed_secrets] = self.box.decrypt(
                endpoint.sealed_secrets
            )
        found = [str(sealed["current"])]
        until = sealed.get("previous_until")
        if sealed.get("previous") and until and datetime.fromisoformat(until) > now:
            found.append(str(sealed["previous"]))
        return found

    def _seal(
        self, current: str, previous: str | None = None, until: datetime | None = None
    ) -> bytes:
        return self.box.encrypt(
            {
                "current": current,
                "previous": previous,
                "previous_until": until.isoformat() if until else None,
            }
        )

    async def check_url(self, url: str) -> None:
        """Refuse a URL the gateway must not call (422 naming ``url``)."""
        try:
            await check_url(url, allow_private=self.allow_private, resolver=self.resolver)
        except UnsafeURL as exc:
            raise InvalidRequest(str(exc), code="url_not_allowed", field="url") from None

    async def _check_key(self, conn: AsyncConnection, key: ApiKey, api_key_id: str) -> None:
        bound = await key_store.get_key(conn, key.account_id, api_key_id)
        if bound is None or bound.mode is not key.mode:
            raise InvalidRequest(
                f"no {key.mode.value} key {api_key_id} in this account", field="api_key_id"
            )

    async def create(
        self, conn: AsyncConnection, key: ApiKey, changes: EndpointChanges, now: datetime
    ) -> tuple[StoredEndpoint, str]:
        """A new endpoint of the key's account and mode, and its signing secret (shown once)."""
        assert changes.url is not None
        if changes.api_key_id is not None:
            await self._check_key(conn, key, changes.api_key_id)
        secret = webhooks.new_secret()
        endpoint = StoredEndpoint(
            id=new_id("we"),
            account_id=key.account_id,
            mode=key.mode,
            api_key_id=changes.api_key_id,
            url=changes.url,
            description=changes.description,
            event_types=None if changes.all_event_types else changes.event_types,
            enabled=True if changes.enabled is None else changes.enabled,
            disabled_reason=None if changes.enabled is not False else "by_request",
            sealed_secrets=self._seal(secret),
            plain_signature=bool(changes.plain_signature),
            failing_since=None,
            created_at=now,
            updated_at=now,
        )
        await endpoint_store.insert_endpoint(conn, endpoint)
        return endpoint, secret

    async def get(self, conn: AsyncConnection, key: ApiKey, endpoint_id: str) -> StoredEndpoint:
        """The key's account's endpoint, or 404."""
        found = await endpoint_store.get_endpoint(conn, key.account_id, key.mode, endpoint_id)
        if found is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}", field="id")
        return found

    async def list(self, conn: AsyncConnection, key: ApiKey) -> Sequence[StoredEndpoint]:
        """The key's account's endpoints of its mode."""
        return await endpoint_store.list_endpoints(conn, key.account_id, key.mode)

    async def update(
        self,
        conn: AsyncConnection,
        key: ApiKey,
        endpoint_id: str,
        changes: EndpointChanges,
        now: datetime,
    ) -> StoredEndpoint:
        """Apply ``changes``; enabling an endpoint clears its failure run and reason."""
        endpoint = await self.get(conn, key, endpoint_id)
        values: dict[str, Any] = {"updated_at": now}
        if changes.url is not None:
            values["url"] = changes.url
        if changes.description is not None:
            values["description"] = changes.description
        if changes.all_event_types:
            values["event_types"] = None
        elif changes.event_types is not None:
            values["event_types"] = changes.event_types
        if changes.unbind_key:
            values["api_key_id"] = None
        elif changes.api_key_id is not None:
            await self._check_key(conn, key, changes.api_key_id)
            values["api_key_id"] = changes.api_key_id
        if changes.plain_signature is not None:
            values["plain_signature"] = changes.plain_signature
        if changes.enabled is True:
            values.update(enabled=True, disabled_reason=None, failing_since=None)
        elif changes.enabled is False:
            values.update(enabled=False, disabled_reason="by_request")
        changed = replace(endpoint, **values)
        await endpoint_store.save_endpoint(conn, changed)
        return changed

    async def delete(self, conn: AsyncConnection, key: ApiKey, endpoint_id: str) -> None:
        """Remove an endpoint, its deliveries and their attempts."""
        endpoint = await self.get(conn, key, endpoint_id)
        await endpoint_store.delete_endpoint(conn, endpoint.id)

    async def rotate_secret(
        self, conn: AsyncConnection, key: ApiKey, endpoint_id: str, now: datetime
    ) -> tuple[StoredEndpoint, str]:
        """A new signing secret (shown once); the old one signs too for ``ROTATION_OVERLAP``."""
        endpoint = await self.get(conn, key, endpoint_id)
        old = self.signing_secrets(endpoint, now)[0]
        secret = webhooks.new_secret()
        changed = replace(
            endpoint,
            sealed_secrets=self._seal(secret, old, now + ROTATION_OVERLAP),
            updated_at=now,
        )
        await endpoint_store.save_endpoint(conn, changed)
        return changed, secret

    async def ping(
        self, conn: AsyncConnection, key: ApiKey, endpoint_id: str, now: datetime
    ) -> Delivery:
        """Queue a ``webhook.ping`` delivery to the endpoint; returns it."""
        endpoint = await self.get(conn, key, endpoint_id)
        payload = event_envelope(new_id("evt"), PING_EVENT, now, {"endpoint_id": endpoint.id})
        row = delivery_store.delivery_row(
            new_id("dlv"),
            endpoint.account_id,
            endpoint.id,
            None,
            PING_EVENT,
            orjson.dumps(payload).decode(),
            now,
        )
        await delivery_store.add_deliveries(conn, [row])
        return delivery_store.delivery_of(row)
