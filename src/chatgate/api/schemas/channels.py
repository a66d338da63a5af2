"""Bodies of ``/v1/channels``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from chatgate.api.schemas.common import ApiModel
from chatgate.channels.base import ChannelSettings
from chatgate.channels.registry import adapter_class, made_elsewhere, supported_types
from chatgate.domain.content import Boolean
from chatgate.domain.free_form import StorableObject
from chatgate.domain.schema_rules import branch, storable_everywhere, with_rules
from chatgate.services.channels import ConnectionView


def _connectable(value: object) -> object:
    route = made_elsewhere(value) if isinstance(value, str) else None
    if route is not None:
        raise PydanticCustomError(
            "unknown_channel",
            "a {channel} channel is a linked-device session: create one with POST {route}",
            {"channel": value, "route": route},
        )
    if value not in supported_types():
        raise PydanticCustomError(
            "unknown_channel",
            "must be one of: {choices}",
            {"choices": ", ".join(supported_types())},
        )
    return value


if TYPE_CHECKING:
    ConnectableType = str
else:
    # The platforms a connection can be made to (those with an adapter).
    ConnectableType = Annotated[Literal[tuple(supported_types())], BeforeValidator(_connectable)]
_SETTINGS = "api_base, api_version, rate_per_second, per_recipient_seconds, …"

ChannelName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")
]


def _credentials_by_type(schema: dict[str, Any], cls: type) -> None:
    """The request's schema, with each platform's credentials (its adapter's model, which
    ``POST /v1/channels`` checks them against) as a ``oneOf`` branch told apart by ``type``."""
    with_rules(schema, cls)
    branches = []
    for channel_type in supported_types():
        credentials = adapter_class(channel_type).credentials_model.model_json_schema()
        storable_everywhere(credentials)
        branches.append(branch(["type"], type={"const": channel_type}, credentials=credentials))
    schema["oneOf"] = branches


class CreateChannelRequest(ApiModel):
    """A new connection to a platform."""

    model_config = ConfigDict(json_schema_extra=_credentials_by_type)

    type: ConnectableType = Field(description="the platform")
    name: ChannelName
    credentials: StorableObject = Field(
        description="the platform's secrets and ids; write-only, stored encrypted"
    )
    settings: ChannelSettings = Field(default_factory=ChannelSettings, description=_SETTINGS)
    default: Boolean | None = Field(
        default=None, description="the connection used when a send names no `from`"
    )

    def settings_given(self) -> dict[str, Any]:
        """The settings the request names, as the service takes them."""
        return self.settings.model_dump(exclude_unset=True)


class UpdateChannelRequest(ApiModel):
    """Changes to a connection; credentials and settings given are merged into the old."""

    name: ChannelName | None = None
    credentials: StorableObject | None = Field(
        default=None,
        description="credential fields to change: merged into the stored ones, the result "
        "checked as the platform's credentials",
    )
    settings: ChannelSettings | None = Field(default=None, description=_SETTINGS)
    default: Literal[True] | None = None

    def settings_given(self) -> dict[str, Any] | None:
        """The settings the request names (to merge into the old), as the service takes them."""
        return None if self.settings is None else self.settings.model_dump(exclude_unset=True)


class ChannelOut(BaseModel):
    """A connection as the API shows it: never the credentials' values."""

    id: str
    object: Literal["channel"] = "channel"
    type: str
    name: str
    default: bool
    settings: dict[str, Any]
    credentials_set: list[str] = Field(description="which credential fields are stored")
    inbound_url: str = Field(description="paste this into the platform's webhook settings")
    created_at: datetime
    updated_at: datetime | None
    webhook_registered: bool | None = Field(
        default=None,
        description="on creation: whether Chatgate pointed the platform's webhook here itself "
        "(Telegram); false means the inbound_url must be set in the platform's console",
    )

    @classmethod
    def of(cls, view: ConnectionView, **extra: Any) -> ChannelOut:
        """The API's view of a connection."""
        return cls(
            id=view.id,
            type=view.type,
            name=view.name,
            default=view.is_default,
            settings=view.settings,
            credentials_set=view.credentials_set,
            inbound_url=view.inbound_url,
            created_at=view.created_at,
            updated_at=view.updated_at,
            **extra,
        )


class ChannelList(BaseModel):
    """Every connection of the account."""

    object: Literal["list"] = "list"
    data: list[ChannelOut]


class Capabilities(BaseModel):
    """What each connectable platform can carry."""

    features: list[str] = Field(description="every feature name, in order")
    channels: dict[str, list[str]]
