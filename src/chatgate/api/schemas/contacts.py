"""Bodies of ``/v1/contacts``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    create_model,
)

from chatgate.api.schemas.common import ApiModel
from chatgate.domain.addresses import ADDRESS_PATTERNS, PHONE_CHANNELS, USER_ID_CHANNELS
from chatgate.domain.channels import ChannelType
from chatgate.domain.contacts import (
    ATTRIBUTE_NAME_PATTERN,
    EMAIL_PATTERN,
    MAX_ATTRIBUTE_NAME,
    MAX_ATTRIBUTE_TEXT,
    MAX_ATTRIBUTES,
    MAX_IDENTITIES,
    MAX_NAME,
    Contact,
)
from chatgate.domain.free_form import Fraction, Int64, PropertyNames, StorableText
from chatgate.services.contacts import ContactChanges

AttributeValue = StrictStr | StrictBool | StrictInt | StrictFloat
# What the service's check_attributes takes: a flat object of named values. The service
# checks them (naming the attribute at fault, where a union would name its member); the
# schema is this type's.
_AttributeText = Annotated[StorableText, Field(max_length=MAX_ATTRIBUTE_TEXT)]
_FLAT_ATTRIBUTES = TypeAdapter(
    Annotated[
        dict[str, _AttributeText | Int64 | Fraction | bool],
        PropertyNames(ATTRIBUTE_NAME_PATTERN, MAX_ATTRIBUTE_NAME),
    ]
).json_schema()
Attributes = Annotated[dict[str, Any], WithJsonSchema(_FLAT_ATTRIBUTES)]
_NAME = r"^[^\x00-\x1f]*$"
_IDENTITIES = (
    "how the contact is reached on each channel: WhatsApp, SMS and Kakao phones (E.164), "
    "Telegram chat id, Messenger PSID, Instagram id, LINE user id, Viber id, Zalo id"
)


class _Identity(ApiModel):
    """The contact's address on one channel (on WhatsApp a phone or a business-scoped user
    id such as ``BR.1502576394655843``)."""

    channel: str
    id: str


def _identity_on(channels: list[ChannelType]) -> type[_Identity]:
    """The identity of a contact on ``channels``, which share one address shape: so that the
    schema states the shape of ``id`` for each channel."""
    shape = ADDRESS_PATTERNS[channels[0]]
    address = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=shape)]
    names = tuple(channel.value for channel in channels)
    # Channels addressed by phone alone share one member; WhatsApp also takes user ids.
    phone = channels[0] in PHONE_CHANNELS and channels[0] not in USER_ID_CHANNELS
    model: type[_Identity] = create_model(
        "PhoneIdentity" if phone else f"{names[0].title()}Identity",
        __base__=_Identity,
        __doc__=f"The contact's address on {', '.join(names)}.",
        channel=(Literal[names], ...),
        id=(address, Field(examples=["+14155550123" if phone else "123456789"])),
    )
    return model


def _by_shape() -> dict[str, list[ChannelType]]:
    groups: dict[str, list[ChannelType]] = {}
    for channel in ChannelType:
        groups.setdefault(ADDRESS_PATTERNS[channel], []).append(channel)
    return groups


if TYPE_CHECKING:
    IdentityIn = _Identity
else:
    # One member per address shape, told apart by ``channel``.
    IdentityIn = Annotated[
        Union[tuple(_identity_on(channels) for channels in _by_shape().values())],  # noqa: UP007
        Field(discriminator="channel"),
    ]


class IdentityOut(BaseModel):
    """The contact's address on one channel, in normal form.

    A WhatsApp user has up to two: the phone (when WhatsApp shared it) and the
    business-scoped user id (``BR.1502576394655843``), which carries the user's username.
    """

    channel: str
    id: str
    username: str | None = Field(
        default=None,
        # Absent rather than null: most identities never have one.
        exclude_if=lambda value: value is None,
        description="the username the platform showed with this identity (WhatsApp users "
        "who adopted one); absent when there is none",
    )


class CreateContactRequest(ApiModel):
    """A new contact; every field is optional."""

    name: str | None = Field(default=None, max_length=MAX_NAME, pattern=_NAME)
    phone: str | None = Field(
        default=None,
        max_length=32,
        pattern=ADDRESS_PATTERNS[ChannelType.SMS],
        description="E.164, e.g. +14155550123",
        examples=["+14155550123"],
    )
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    # Checked by the service too, which names the attribute that is wrong.
    attributes: Attributes | None = Field(
        default=None,
        max_length=MAX_ATTRIBUTES,
        description="a flat object: string keys, string, number or boolean values",
    )
    preferred_channels: list[ChannelType] | None = Field(
        default=None,
        max_length=len(ChannelType),
        # Checked by the service (which names the repeated one); stated here for clients.
        json_schema_extra={"uniqueItems": True},
        description='the order in which "channel": "auto" tries the contact\'s channels',
    )
    identities: list[IdentityIn] | None = Field(
        default=None, max_length=MAX_IDENTITIES, description=_IDENTITIES
    )

    def changes(self) -> ContactChanges:
        """The service's view: every field given here is set (``null`` clears it)."""
        return ContactChanges(
            name=self.name,
            phone=self.phone,
            email=self.email,
            attributes=self.attributes,
            preferred_channels=[c.value for c in self.preferred_channels]
            if self.preferred_channels is not None
            else None,
            identities=[(i.channel, i.id) for i in self.identities]
            if self.identities is not None
            else None,
            given=frozenset(self.model_fields_set),
        )


class UpdateContactRequest(CreateContactRequest):
    """Changes to a contact: absent fields stay as they are, ``null`` clears a field, and
    ``identities`` (like ``attributes`` and ``preferred_channels``) replaces the whole set."""


class ContactOut(BaseModel):
    """A contact as the API shows it."""

    id: str = Field(examples=["ct_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    object: Literal["contact"] = "contact"
    name: str | None
    phone: str | None
    email: str | None
    attributes: dict[str, AttributeValue]
    preferred_channels: list[str]
    identities: list[IdentityOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, contact: Contact) -> ContactOut:
        """The API's view of a stored contact."""
        return cls(
            id=contact.id,
            name=contact.name,
            phone=contact.phone,
            email=contact.email,
            attributes=dict(contact.attributes),
            preferred_channels=list(contact.preferred_channels),
            identities=[
                IdentityOut(channel=i.channel, id=i.identity, username=i.username)
                for i in contact.identities
            ],
            created_at=contact.created_at,
            updated_at=contact.updated_at,
        )


class ContactList(BaseModel):
    """A page of contacts, newest first."""

    object: Literal["list"] = "list"
    data: list[ContactOut]
    has_more: bool
    next_cursor: str | None
