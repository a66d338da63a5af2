"""Channel connections: create, change, remove; and the adapter that serves each one.

Credentials are validated against the platform's own model, encrypted before they are
stored and never returned: a view of a connection names which credential fields are set,
not their values. Every change is audited in its transaction, naming the credential fields
that changed, never their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import ChannelAdapter, ChannelSettings
from chatgate.channels.registry import adapter_class, supported_types
from chatgate.crypto import CredentialBox
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.errors import Conflict, InvalidRequest, NotFound
from chatgate.net_guard import HostNotFound, NetworkPolicy, UnsafeURL
from chatgate.services.audit import Actor, record
from chatgate.storage import channels as channel_store
from chatgate.storage import events as event_store
from chatgate.storage.channels import StoredConnection
from chatgate.storage.types import utcnow

CHANNEL_STATUS_EVENT = "channel.status"
# The statuses :func:`announce` logs when a connection itself is made, given new credentials
# or removed (the others are the states of its sessions): a worker keeping sessions open
# looks again at each.
CONNECTION_CHANGES = frozenset({"connected", "credentials_changed", "removed"})


@dataclass(frozen=True, slots=True)
class ConnectionView:
    """What may be shown of a connection: everything but the credentials' values."""

    id: str
    type: str
    name: str
    settings: dict[str, Any]
    is_default: bool
    credentials_set: list[str]
    inbound_url: str
    created_at: datetime
    updated_at: datetime | None


def _invalid(error: ValidationError, prefix: str) -> InvalidRequest:
    first = error.errors(include_input=False, include_url=False)[0]
    path = ".".join(str(part) for part in (prefix, *first["loc"]))
    return InvalidRequest(str(first["msg"]), field=path)


def validate_credentials(channel_type: str, values: Mapping[str, Any]) -> BaseModel:
    """The platform's credentials model for ``values``; 422 naming the wrong field."""
    try:
        return adapter_class(channel_type).credentials_model.model_validate(dict(values))
    except ValidationError as exc:
        raise _invalid(exc, "credentials") from None


def validate_settings(values: Mapping[str, Any]) -> ChannelSettings:
    """Connection settings; 422 naming the wrong field."""
    try:
        return ChannelSettings.model_validate(dict(values))
    except ValidationError as exc:
        raise _invalid(exc, "settings") from None


# Said to a tenant whose channel leads into a private network: who can allow it.
_PRIVATE_HINT = (
    "; channels can reach only public addresses unless the gateway's operator sets "
    "CHATGATE_ALLOW_PRIVATE_API_BASE=1 (for a local emulator or an SMSC on their network)"
)


def _name_taken() -> Conflict:
    return Conflict("a channel with this name already exists", code="name_taken", field="name")


def _check_type(channel_type: str) -> None:
    if channel_type not in supported_types():
        raise InvalidRequest(
            f"must be one of: {', '.join(supported_types())}", field="type", code="unknown_channel"
        )


def _secret_values(model: BaseModel) -> dict[str, Any]:
    """The credentials as plain values, for encryption (secrets unwrapped)."""
    plain: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if value is None:
            continue
        plain[name] = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    return plain


async def announce(
    conn: AsyncConnection, stored: StoredConnection, status: str, at: datetime
) -> None:
    """Log a ``channel.status`` event of the connection's account (live: only live keys use
    connections), in the transaction that changed it."""
    detail = {"channel_id": stored.id, "type": stored.type, "name": stored.name, "status": status}
    await event_store.append_account_event(
        conn, stored.account_id, KeyMode.LIVE, CHANNEL_STATUS_EVENT, detail, at
    )


def _facts(stored: StoredConnection) -> dict[str, Any]:
    # Type and name keep an entry readable after the connection is gone.
    return {"type": stored.type, "name": stored.name}


def _changed_names(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The keys whose values differ between ``old`` and ``new`` (added and removed too)."""
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))


def _update_detail(
    before: StoredConnection,
    after: StoredConnection,
    old_credentials: Mapping[str, Any],
    new_credentials: Mapping[str, Any],
) -> dict[str, Any]:
    """What an update changed: fields, and the names (never the values) of credentials."""
    credentials = _changed_names(old_credentials, new_credentials)
    settings = _changed_names(before.settings, after.settings)
    changed = {
        "name": before.name != after.name,
        "credentials": bool(credentials),
        "settings": bool(settings),
        "default": before.is_default != after.is_default,
    }
    return {
        **_facts(after),
        "fields": [field for field, differs in changed.items() if differs],
        "credentials": credentials,
        "settings": settings,
    }


class ChannelService:
    """Connections of one deployment: its key box and its public address."""

    def __init__(
        self, box: CredentialBox, public_url: str, network: NetworkPolicy | None = None
    ) -> None:
        self.box = box
        self.public_url = public_url.rstrip("/")
        # Where connections may lead: public addresses, unless the operator allowed more.
        self.network = network or NetworkPolicy()
        # Adapters by connection id, with the version they were built from: decrypting and
        # validating credentials on every send, webhook and check would be wasted work.
        self._adapters: dict[str, tuple[datetime | None, ChannelAdapter[Any]]] = {}

    def _plain(self, stored: StoredConnection) -> dict[str, Any]:
        """The connection's credentials in clear (none for a session's connection)."""
        return self.box.decrypt(stored.credentials) if stored.credentials else {}

    def inbound_url(self, connection_id: str) -> str:
        """The URL to paste into the platform's console for this connection's webhooks."""
        return f"{self.public_url}/inbound/{connection_id}"

    def view(self, stored: StoredConnection) -> ConnectionView:
        """A connection as it may be shown."""
        credentials = self._plain(stored)
        return ConnectionView(
            id=stored.id,
            type=stored.type,
            name=stored.name,
            settings=stored.settings,
            is_default=stored.is_default,
            credentials_set=sorted(credentials),
            inbound_url=self.inbound_url(stored.id),
            created_at=stored.created_at,
            updated_at=stored.updated_at,
        )

    def adapter(self, stored: StoredConnection) -> ChannelAdapter[Any]:
        """The adapter serving ``stored``, built with its decrypted credentials.

        Built once per version of the connection (its ``updated_at``).
        """
        cached = self._adapters.get(stored.id)
        if cached is not None and cached[0] == stored.updated_at:
            return cached[1]
        cls = adapter_class(stored.type)
        credentials = cls.credentials_model.model_validate(self._plain(stored))
        adapter = cls(
            credentials,
            ChannelSettings.model_validate(stored.settings),
            connection_id=stored.id,
            inbound_url=self.inbound_url(stored.id),
            network=self.network,
        )
        self._adapters[stored.id] = (stored.updated_at, adapter)
        return adapter

    async def check_reach(
        self, channel_type: str, credentials: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> None:
        """Refuse a connection whose API or server the gateway must not connect to: 422
        naming the field (``settings.api_base``, or a server's ``credentials.host``).

        Run before the transaction that stores the connection, never inside it: a name
        may take seconds to resolve. (Every connection is made under the same policy as
        well, so a connection stored before the policy changed cannot lead there either.)
        """
        _check_type(channel_type)
        cls = adapter_class(channel_type)
        adapter = cls(
            validate_credentials(channel_type, credentials),
            validate_settings(settings),
            network=self.network,
        )
        try:
            destinations = adapter.destinations()
        except UnsafeURL as exc:
            # A URL of the schema's shape whose host cannot be read: no host to reach, as
            # for one that does not resolve.
            raise InvalidRequest(
                str(exc), code="address_not_allowed", field="settings.api_base"
            ) from None
        for destination in destinations:
            try:
                await self.network.addresses(destination.host, destination.port)
            except UnsafeURL as exc:
                hint = "" if isinstance(exc, HostNotFound) else _PRIVATE_HINT
                raise InvalidRequest(
                    f"{exc}{hint}", code="address_not_allowed", field=destination.field
                ) from None

    async def check_update_reach(
        self,
        stored: StoredConnection,
        credentials: Mapping[str, Any] | None,
        settings: Mapping[str, Any] | None,
    ) -> None:
        """:meth:`check_reach` for a change of ``stored``: its values with the new merged in."""
        if credentials is None and settings is None:
            return
        merged_credentials = {**self._plain(stored), **(credentials or {})}
        merged_settings = {**stored.settings, **(settings or {})}
        await self.check_reach(stored.type, merged_credentials, merged_settings)

    async def create(
        self,
        conn: AsyncConnection,
        actor: Actor,
        *,
        channel_type: str,
        name: str,
        credentials: Mapping[str, Any],
        settings: Mapping[str, Any],
        is_default: bool | None,
        now: datetime,
    ) -> StoredConnection:
        """Validate, encrypt and store a new connection of ``actor``'s account, audited."""
        _check_type(channel_type)
        model = validate_credentials(channel_type, credentials)
        channel_settings = validate_settings(settings)
        account_id = actor.account_id
        first = await channel_store.count_of_type(conn, account_id, channel_type) == 0
        default = first if is_default is None else is_default or first
        if default and not first:
            await channel_store.clear_default(conn, account_id, channel_type)
        plain = _secret_values(model)
        stored = StoredConnection(
            id=new_id("ch"),
            account_id=account_id,
            type=channel_type,
            name=name,
            credentials=self.box.encrypt(plain),
            settings=channel_settings.model_dump(exclude_none=True),
            is_default=default,
            created_at=now,
            updated_at=now,
        )
        try:
            await channel_store.insert_connection(conn, stored)
        except IntegrityError:
            raise _name_taken() from None
        await announce(conn, stored, "connected", now)
        detail = {
            **_facts(stored),
            "default": default,
            "credentials": sorted(plain),
            "settings": sorted(stored.settings),
        }
        await record(conn, actor, "channel.created", stored.id, detail)
        return stored

    async def update(
        self,
        conn: AsyncConnection,
        actor: Actor,
        connection_id: str,
        *,
        name: str | None,
        credentials: Mapping[str, Any] | None,
        settings: Mapping[str, Any] | None,
        is_default: bool | None,
        now: datetime,
    ) -> StoredConnection:
        """Change a connection of ``actor``'s account (404 if it has none by that id),
        audited; credentials and settings given are merged into the old."""
        stored = await self.get(conn, actor.account_id, connection_id)
        values: dict[str, Any] = {"updated_at": now}
        if name is not None:
            values["name"] = name
        old_plain: dict[str, Any] = {}
        new_plain: dict[str, Any] = {}
        if credentials is not None:
            old_plain = self._plain(stored)
            model = validate_credentials(stored.type, {**old_plain, **credentials})
            new_plain = _secret_values(model)
            values["credentials"] = self.box.encrypt(new_plain)
        if settings is not None:
            merged_settings = {**stored.settings, **settings}
            values["settings"] = validate_settings(merged_settings).model_dump(exclude_none=True)
        if is_default:
            await channel_store.clear_default(conn, stored.account_id, stored.type)
            values["is_default"] = True
        try:
            await channel_store.update_connection(conn, stored.id, values)
        except IntegrityError:
            raise _name_taken() from None
        found = await channel_store.get_connection(conn, stored.id)
        assert found is not None  # updated in this very transaction
        if credentials is not None:
            await announce(conn, found, "credentials_changed", now)
        detail = _update_detail(stored, found, old_plain, new_plain)
        await record(conn, actor, "channel.updated", found.id, detail)
        return found

    async def get(
        self, conn: AsyncConnection, account_id: str, connection_id: str
    ) -> StoredConnection:
        """A connection of the account, or 404."""
        found = await channel_store.get_connection(conn, connection_id, account_id)
        if found is None:
            raise NotFound("no such channel", field="id")
        return found

    async def remove(self, conn: AsyncConnection, actor: Actor, connection_id: str) -> None:
        """Delete a connection of ``actor``'s account (404 if it has none by that id),
        audited."""
        account_id = actor.account_id
        stored = await self.get(conn, account_id, connection_id)
        await channel_store.delete_connection(conn, stored.id)
        await announce(conn, stored, "removed", utcnow())
        await record(
            conn,
            actor,
            "channel.deleted",
            stored.id,
            {**_facts(stored), "default": stored.is_default},
        )
        self._adapters.pop(stored.id, None)
        if stored.is_default:
            successor = await channel_store.find_connection(conn, account_id, stored.type, None)
            if successor is not None:
                await channel_store.update_connection(conn, successor.id, {"is_default": True})

    async def store_rotated_credentials(
        self, conn: AsyncConnection, connection_id: str, credentials: BaseModel, now: datetime
    ) -> None:
        """Keep credentials a connection's adapter rotated itself (a refreshed OAuth token).

        The platform has spent the old ones, so they are replaced, not merged; audited as
        the account's own change (no key made it), naming the fields, never their values.
        Nothing happens when the connection was removed meanwhile.
        """
        stored = await channel_store.get_connection(conn, connection_id)
        if stored is None:
            return
        old_plain = self._plain(stored)
        new_plain = _secret_values(credentials)
        values = {"credentials": self.box.encrypt(new_plain), "updated_at": now}
        await channel_store.update_connection(conn, connection_id, values)
        detail = {
            **_facts(stored),
            "fields": ["credentials"],
            "credentials": _changed_names(old_plain, new_plain),
            "settings": [],
            "rotated": True,
        }
        await record(conn, Actor(stored.account_id), "channel.updated", stored.id, detail)

    async def reencrypt_all(self, conn: AsyncConnection) -> int:
        """Re-encrypt every stored credential with the first key (key rotation).

        An operator's act across accounts: each connection's ``channel.updated`` entry is in
        its own account, as from the command line (no key, no address), and marked
        ``reencrypted``: no field or credential value changed, only the key sealing them.
        """
        encrypted = await channel_store.all_credentials(conn)
        for connection_id, token in encrypted:
            await channel_store.update_connection(
                conn, connection_id, {"credentials": self.box.rotate(token)}
            )
            stored = await channel_store.get_connection(conn, connection_id)
            assert stored is not None  # updated in this very transaction
            detail = {
                **_facts(stored),
                "fields": [],
                "credentials": [],
                "settings": [],
                "reencrypted": True,
            }
            await record(conn, Actor(stored.account_id), "channel.updated", stored.id, detail)
        return len(encrypted)
