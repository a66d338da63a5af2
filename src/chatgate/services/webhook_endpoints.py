"""Customer webhook endpoints: create, change, remove, rotate the signing secret, ping.

An endpoint belongs to an account and to the mode of the key that made it (test keys'
endpoints receive test events). Its URL passes the SSRF guard when it is set and again on
every delivery. It receives every event committed after it was made: it keeps the mark of
the event log its creating transaction saw, not a time (a platform's clock, in whole seconds,
would put a message received just after it before it).

Its signing secret is shown once, when it is made or rotated; stored encrypted, it never
appears in a response again. After a rotation the old secret keeps signing beside the new
one for ``ROTATION_OVERLAP``, so receivers can switch without a gap.

Every change is audited in its transaction. The entries never hold the signing secret, nor
more of the URL than its origin: receivers' URLs often carry a token in their path or query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate import webhooks
from chatgate.crypto import CredentialBox
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import ApiKey
from chatgate.errors import InvalidRequest, NotFound
from chatgate.net_guard import Resolver, UnsafeURL, check_url, system_resolver
from chatgate.services.audit import Actor, record
from chatgate.services.events import event_envelope
from chatgate.services.webhook_formats import STANDARD, WebhookFormats
from chatgate.storage import events as event_store
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
    format: str | None = None


# The fields of an endpoint that audit entries show (the URL only as its origin).
_AUDITED = (
    "url",
    "description",
    "event_types",
    "api_key_id",
    "enabled",
    "plain_signature",
    "format",
)


def _url_origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: no user, path, query or fragment, which may hold
    a receiver's token."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _audited_value(endpoint: StoredEndpoint, field: str) -> tuple[str, Any]:
    """The key and value under which an audit entry shows ``field`` of ``endpoint``."""
    if field == "url":
        return "url_origin", _url_origin(endpoint.url)
    value = getattr(endpoint, field)
    return field, list(value) if isinstance(value, tuple) else value


def _facts(endpoint: StoredEndpoint) -> dict[str, Any]:
    return {
        "mode": endpoint.mode.value,
        **dict(_audited_value(endpoint, field) for field in _AUDITED),
    }


def _update_detail(before: StoredEndpoint, after: StoredEndpoint) -> dict[str, Any]:
    """The fields an update changed, with their new values (the URL as its origin)."""
    changed = [f for f in _AUDITED if getattr(before, f) != getattr(after, f)]
    return {"fields": changed, **dict(_audited_value(after, field) for field in changed)}


class WebhookEndpoints:
    """Manages endpoints with one deployment's key box and URL policy."""

    def __init__(
        self,
        box: CredentialBox,
        *,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        formats: WebhookFormats | None = None,
    ) -> None:
        self.box = box
        self.allow_private = allow_private
        self.resolver = resolver
        self.formats = formats or WebhookFormats()
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

    async def _check_key(
        self, conn: AsyncConnection, account_id: str, mode: KeyMode, api_key_id: str
    ) -> ApiKey:
        bound = await key_store.get_key(conn, account_id, api_key_id)
        if bound is None or bound.mode is not mode:
            raise InvalidRequest(
                f"no {mode.value} key {api_key_id} in this account", field="api_key_id"
            )
        return bound

    async def _check_format(
        self,
        conn: AsyncConnection,
        account_id: str,
        mode: KeyMode,
        format_name: str,
        api_key_id: str | None,
    ) -> None:
        """Refuse a format this gateway does not serve, or a key binding it cannot carry: a
        dialect's format goes to that dialect's keys' endpoints only."""
        format_ = self.formats.known(format_name)
        if format_ is None:
            known = ", ".join(self.formats.names())
            raise InvalidRequest(f"must be one of: {known}", field="format")
        if api_key_id is None:
            if format_.requires_key:
                raise InvalidRequest(
                    f"a {format_name} endpoint is bound to one of its keys: give api_key_id",
                    field="api_key_id",
                )
            return
        bound = await self._check_key(conn, account_id, mode, api_key_id)
        if format_.dialect is not None and bound.dialect is not format_.dialect:
            raise InvalidRequest(
                f"a {format_name} endpoint is bound to a {format_.dialect.value} key only",
                field="api_key_id",
            )

    async def create(
        self,
        conn: AsyncConnection,
        actor: Actor,
        mode: KeyMode,
        changes: EndpointChanges,
        now: datetime,
    ) -> tuple[StoredEndpoint, str]:
        """A new endpoint of ``actor``'s account in ``mode``, audited, and its signing secret
        (shown once)."""
        assert changes.url is not None
        format_name = changes.format or STANDARD
        await self._check_format(conn, actor.account_id, mode, format_name, changes.api_key_id)
        secret = webhooks.new_secret()
        endpoint = StoredEndpoint(
            id=new_id("we"),
            account_id=actor.account_id,
            mode=mode,
            api_key_id=changes.api_key_id,
            url=changes.url,
            description=changes.description,
            event_types=None if changes.all_event_types else changes.event_types,
            enabled=True if changes.enabled is None else changes.enabled,
            disabled_reason=None if changes.enabled is not False else "by_request",
            sealed_secrets=self._seal(secret),
            plain_signature=bool(changes.plain_signature),
            failing_since=None,
            # In this transaction: every event committed after the endpoint follows it.
            log_mark=await event_store.mark_log(conn),
            created_at=now,
            updated_at=now,
            format=format_name,
        )
        await endpoint_store.insert_endpoint(conn, endpoint)
        await record(conn, actor, "webhook.created", endpoint.id, _facts(endpoint))
        return endpoint, secret

    async def get(
        self, conn: AsyncConnection, account_id: str, mode: KeyMode, endpoint_id: str
    ) -> StoredEndpoint:
        """The account's endpoint of ``mode``, or 404 (for another account's or mode's too)."""
        found = await endpoint_store.get_endpoint(conn, account_id, mode, endpoint_id)
        if found is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}", field="id")
        return found

    async def list(self, conn: AsyncConnection, key: ApiKey) -> Sequence[StoredEndpoint]:
        """The key's account's endpoints of its mode."""
        return await endpoint_store.list_endpoints(conn, key.account_id, key.mode)

    async def update(
        self,
        conn: AsyncConnection,
        actor: Actor,
        mode: KeyMode,
        endpoint_id: str,
        changes: EndpointChanges,
        now: datetime,
    ) -> StoredEndpoint:
        """Apply ``changes``, audited; enabling an endpoint clears its failure run and reason."""
        endpoint = await self.get(conn, actor.account_id, mode, endpoint_id)
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
            values["api_key_id"] = changes.api_key_id
        if changes.format is not None:
            values["format"] = changes.format
        if {"api_key_id", "format"} & values.keys():
            await self._check_format(
                conn,
                actor.account_id,
                mode,
                values.get("format", endpoint.format),
                values.get("api_key_id", endpoint.api_key_id),
            )
        if changes.plain_signature is not None:
            values["plain_signature"] = changes.plain_signature
        if changes.enabled is True:
            values.update(enabled=True, disabled_reason=None, failing_since=None)
        elif changes.enabled is False:
            values.update(enabled=False, disabled_reason="by_request")
        changed = replace(endpoint, **values)
        await endpoint_store.save_endpoint(conn, changed)
        await record(conn, actor, "webhook.updated", changed.id, _update_detail(endpoint, changed))
        return changed

    async def delete(
        self, conn: AsyncConnection, actor: Actor, mode: KeyMode, endpoint_id: str
    ) -> None:
        """Remove an endpoint, its deliveries and their attempts, audited."""
        endpoint = await self.get(conn, actor.account_id, mode, endpoint_id)
        await endpoint_store.delete_endpoint(conn, endpoint.id)
        await record(conn, actor, "webhook.deleted", endpoint.id, _facts(endpoint))

    async def rotate_secret(
        self, conn: AsyncConnection, actor: Actor, mode: KeyMode, endpoint_id: str, now: datetime
    ) -> tuple[StoredEndpoint, str]:
        """A new signing secret (shown once), audited; the old one signs too for
        ``ROTATION_OVERLAP``."""
        endpoint = await self.get(conn, actor.account_id, mode, endpoint_id)
        old = self.signing_secrets(endpoint, now)[0]
        secret = webhooks.new_secret()
        until = now + ROTATION_OVERLAP
        changed = replace(endpoint, sealed_secrets=self._seal(secret, old, until), updated_at=now)
        await endpoint_store.save_endpoint(conn, changed)
        detail = {"previous_secret_valid_until": until.isoformat()}
        await record(conn, actor, "webhook.secret_rotated", changed.id, detail)
        return changed, secret

    async def ping(
        self, conn: AsyncConnection, key: ApiKey, endpoint_id: str, now: datetime
    ) -> Delivery:
        """Queue a ``webhook.ping`` delivery to the endpoint; returns it."""
        endpoint = await self.get(conn, key.account_id, key.mode, endpoint_id)
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
