"""Bodies of ``POST /v1/messages/distribute`` and ``GET /v1/distributions/{id}``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from chatgate.api.schemas.addressing import AUTO, Address, address_on, channel_choice
from chatgate.api.schemas.common import ApiModel, ZonedDateTime
from chatgate.api.schemas.messages import MAX_BATCH, Metadata, SendOptions
from chatgate.domain.channels import ChannelType
from chatgate.domain.content import Boolean, Content
from chatgate.domain.free_form import PropertyNames, StorableObject, StorableText
from chatgate.domain.schema_rules import branch
from chatgate.storage.distributions import Distribution

ChannelChoice = Annotated[ChannelType | Literal["auto"], BeforeValidator(channel_choice)]


class RecipientIn(ApiModel):
    """An address on a channel, or a contact (on a channel, or ``auto`` by default)."""

    channel: ChannelChoice | None = None
    to: Address | None = None
    contact_id: str | None = Field(default=None, pattern=r"^ct_[0-9A-Z]{26}$")

    @model_validator(mode="after")
    def _addressed(self) -> RecipientIn:
        if self.contact_id is not None:
            if self.to is not None:
                raise ValueError("to: give either to or contact_id, not both")
            self.channel = self.channel or AUTO
            return self
        if self.to is None:
            raise ValueError("to: is required (or contact_id)")
        if self.channel is None or self.channel == AUTO:
            raise ValueError('channel: is required with to ("auto" needs a contact_id)')
        assert isinstance(self.channel, ChannelType)
        self.to = address_on(self.channel, self.to, "to")
        return self


class ContactSelectionIn(ApiModel):
    """Every contact that matches, each on ``channel`` (``auto`` by default)."""

    channel: ChannelChoice = AUTO
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    has_channel: ChannelType | None = Field(
        default=None, description="only contacts with an identity on this channel"
    )
    name_prefix: str | None = Field(default=None, min_length=1, max_length=200)
    attributes: Annotated[dict[str, StorableText], PropertyNames()] | None = Field(
        default=None, description='attributes with these (string) values, e.g. {"tier": "gold"}'
    )


class DistributeRequest(ApiModel):
    """One content for many recipients: listed ones, a contact selection, or both."""

    # What ``_someone`` checks.
    schema_rules: ClassVar = [
        [
            branch(["recipients"], recipients={"minItems": 1}),
            branch(["contacts"], contacts={"type": "object"}),
        ]
    ]

    content: Content
    recipients: list[StorableObject] = Field(
        default_factory=list,
        max_length=MAX_BATCH,
        description='{"channel", "to"} or {"contact_id", "channel"?}; each checked on its own',
    )
    contacts: ContactSelectionIn | None = None
    metadata: Metadata | None = None
    schedule_at: ZonedDateTime | None = None
    options: SendOptions | None = None
    degrade: Boolean = False
    track_links: Boolean = False

    @model_validator(mode="after")
    def _someone(self) -> DistributeRequest:
        if not self.recipients and self.contacts is None:
            raise ValueError("recipients: give recipients, contacts, or both")
        return self


class RecipientResult(BaseModel):
    """What became of one recipient."""

    index: int
    status: Literal["accepted", "rejected"]
    recipient: dict[str, Any] | None = None
    message_id: str | None = None
    channel: str | None = None
    to: str | None = None
    error: dict[str, Any] | None = None


class DistributionOut(BaseModel):
    """A distribution, each recipient's result, and (when read back) its messages' statuses."""

    id: str = Field(examples=["dst_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    object: Literal["distribution"] = "distribution"
    accepted: int
    rejected: int
    results: list[RecipientResult]
    statuses: dict[str, int] | None = Field(
        default=None, description="how many of its messages stand at each status now"
    )
    created_at: datetime

    @classmethod
    def of(cls, found: Distribution, statuses: dict[str, int] | None = None) -> DistributionOut:
        """Render a stored distribution."""
        return cls(
            id=found.id,
            accepted=found.accepted,
            rejected=found.refused,
            results=[RecipientResult.model_validate(entry) for entry in found.results],
            statuses=statuses,
            created_at=found.created_at,
        )
