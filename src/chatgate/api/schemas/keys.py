"""Bodies of ``/v1/keys`` and ``/v1/account``."""

from __future__ import annotations

from datetime import datetime
from ipaddress import ip_network
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, Strict, StringConstraints, field_validator

from chatgate.api.schemas.common import ApiModel, semantic_error
from chatgate.domain.channels import ChannelType
from chatgate.domain.content import json_integer
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode, Scope
from chatgate.domain.records import ApiKey

# An IPv4 or IPv6 address, or a CIDR range, with surrounding whitespace trimmed.
IpRange = Annotated[
    str,
    StringConstraints(pattern=r"^\s*[0-9A-Fa-f:.]{2,45}(?:/[0-9]{1,3})?\s*$"),
    Field(examples=["203.0.113.0/24"]),
]


# The bounds come before the integer's own checks: after its BeforeValidator they would
# not reach the schema (which said "ge" where JSON Schema says "minimum").
RateLimit = Annotated[int, Field(ge=1, le=1_000_000), Strict(), BeforeValidator(json_integer)]


TRACK_LINKS = "dialect keys whose messages track links (Bik): false sends links untouched"


class CreateKeyRequest(ApiModel):
    """A new key. Omitted fields take the creating key's values."""

    name: str = Field(default="api key", min_length=1, max_length=100)
    mode: KeyMode | None = None
    scopes: list[Scope] | None = Field(default=None, min_length=1, max_length=20)
    ip_allowlist: list[IpRange] = Field(
        default_factory=list, max_length=100, examples=[["203.0.113.0/24", "2001:db8::/32"]]
    )
    allowed_channels: list[ChannelType] | None = Field(default=None, min_length=1)
    rate_limit: RateLimit | None = Field(default=None, description="per minute")
    dialect: Dialect | None = Field(
        default=None,
        description="a vendor API's key, with its prefix (tk_live_…, cpk_live_…), accepted on "
        "that API's routes under /compat/{dialect}/ only; null: a native key",
    )
    track_links: Annotated[bool, Strict()] | None = Field(
        default=None, description=TRACK_LINKS + "; null: true"
    )

    @field_validator("ip_allowlist")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        normalised = []
        for index, cidr in enumerate(value):
            try:
                normalised.append(str(ip_network(cidr.strip(), strict=False)))
            except ValueError:
                # The pattern admits the characters of an address; whether they make one
                # (octets up to 255, one "::", a prefix that fits) is ipaddress' to say.
                raise semantic_error(
                    "invalid_ip_range",
                    str(index),
                    f"{cidr!r} is not an IP address or CIDR range",
                ) from None
        return normalised


class KeyOut(BaseModel):
    """A key as the API shows it: never its secret."""

    id: str
    object: Literal["api_key"] = "api_key"
    name: str
    mode: KeyMode
    prefix: str = Field(description="the start of the secret, to recognise it")
    scopes: list[str]
    ip_allowlist: list[str]
    allowed_channels: list[str] | None
    rate_limit: int | None = Field(description="requests per minute; null for the default")
    dialect: Dialect | None = Field(description="the vendor API the key is for; null: native")
    track_links: bool = Field(description=TRACK_LINKS)
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        """Render a stored key."""
        return cls(**cls.fields_of(key))

    @staticmethod
    def fields_of(key: ApiKey) -> dict[str, Any]:
        """The model's fields taken from a stored key."""
        return {
            "id": key.id,
            "name": key.name,
            "mode": key.mode,
            "prefix": key.display_prefix,
            "scopes": sorted(key.scopes),
            "ip_allowlist": [str(network) for network in key.ip_allowlist],
            "allowed_channels": sorted(key.allowed_channels)
            if key.allowed_channels is not None
            else None,
            "rate_limit": key.rate_limit,
            "dialect": key.dialect,
            "track_links": key.track_links,
            "created_at": key.created_at,
            "revoked_at": key.revoked_at,
        }


class CreatedKey(KeyOut):
    """A new key with its secret: the only time the secret is shown."""

    key: str | None = Field(
        description="the secret; shown in this response only (null when an idempotent "
        "replay answers, since the secret is never stored)"
    )


class KeyList(BaseModel):
    """Every key of the account."""

    object: Literal["list"] = "list"
    data: list[KeyOut]
