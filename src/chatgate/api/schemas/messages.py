"""Bodies of ``/v1/messages``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chatgate.api.schemas.addressing import (
    ANY_ADDRESS,
    AUTO,
    Address,
    address_on,
    addressed_by_channel,
    channel_choice,
)
from chatgate.api.schemas.common import ApiModel, ErrorBody, ZonedDateTime, semantic_error
from chatgate.domain.channels import ChannelType
from chatgate.domain.content import Boolean, Content
from chatgate.domain.fallback import WITHIN_PATTERN, FallbackStep, Trigger, parse_duration
from chatgate.domain.free_form import StorableObject
from chatgate.domain.records import ROUTE, SENDER_PROFILE, Message, MessageEvent
from chatgate.domain.status import Status

MAX_METADATA_BYTES = 16 * 1024
MAX_BATCH = 1000


class NotWithin(ApiModel):
    """Move on if the step has not reached a status within a time."""

    not_: Literal["delivered", "read"] = Field(alias="not")
    within: str = Field(
        pattern=r"^\d{1,7}(s|m|h|d)$",
        examples=["90s", "10m"],
        description="1s to 7d",
        # The schema states the bound too; validation says it in words (``_bounded``).
        json_schema_extra={"pattern": WITHIN_PATTERN},
    )

    @field_validator("within")
    @classmethod
    def _bounded(cls, value: str) -> str:
        parse_duration(value)
        return value


class FallbackStepIn(ApiModel):
    """A step to try if the one before fails, or does not get far enough in time."""

    # Its own ``to`` has its channel's shape; one it takes from the message is checked
    # against its channel as ``invalid_address`` (the schema states each object alone).
    schema_rules: ClassVar = [addressed_by_channel("to")]

    channel: ChannelType
    to: Address | None = Field(
        default=None, description="the recipient on this channel; the message's `to` if absent"
    )
    content: Content | None = Field(default=None, description="the message's content if absent")
    on: Literal["failed"] | NotWithin = "failed"

    @model_validator(mode="before")
    @classmethod
    def _trigger_errors(cls, data: Any) -> Any:
        # Left to the union, a bad {"not", "within"} would be reported against its other
        # branch ("failed"); check the object branch first to name the field at fault.
        trigger = data.get("on") if isinstance(data, dict) else None
        if isinstance(trigger, dict):
            try:
                NotWithin.model_validate(trigger)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(part) for part in error["loc"])
                message = str(error["msg"]).removeprefix("Value error, ")
                raise ValueError(f"on.{where}: {message}" if where else f"on: {message}") from exc
        return data

    def step(self, content: dict[str, Any]) -> FallbackStep:
        """The domain step, with the message's content where this step has none (and, for
        a message to a contact, an empty ``to`` where it has none: the contact's)."""
        trigger = (
            Trigger()
            if isinstance(self.on, str)
            else Trigger(goal=Status(self.on.not_), within=parse_duration(self.on.within))
        )
        own = self.content.model_dump(mode="json", exclude_none=True) if self.content else None
        return FallbackStep(self.channel.value, self.to or "", own or content, trigger)


class KakaoOptions(ApiModel):
    """How a Kakao message goes: AlimTalk (templates) or a brand message (advertising)."""

    type: Literal["alimtalk", "brand"] = Field(
        description='"brand" sends a brand message: free-form content, or a template as a '
        'brand-message template; "alimtalk" (templates only) is what a template is by default'
    )
    targeting: Literal["I", "M", "N"] | None = Field(
        default=None,
        description="brand messages: I the channel's friends (the default), M users who "
        "consented to ads, N consenting users who are not friends (M and N need Kakao's "
        "approval of the channel)",
    )


class SendOptions(ApiModel):
    """Options that only some platforms understand."""

    tag: (
        Literal["HUMAN_AGENT", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE"]
        | None
    ) = Field(
        default=None,
        description="Messenger/Instagram message tag: HUMAN_AGENT lets a person answer up to "
        "7 days after the user's last message; the other tags were retired by Meta and are "
        "refused",
    )
    kakao: KakaoOptions | None = Field(
        default=None, description='Kakao: {"type": "brand"} for brand messages'
    )


class ContactRecipient(ApiModel):
    """A stored contact, reached on the message's channel, or on the one auto routing picks."""

    contact_id: str = Field(pattern=r"^ct_[0-9A-Z]{26}$")


def _metadata_size(value: dict[str, Any]) -> dict[str, Any]:
    # A schema bounds strings and members one by one, never the bytes of a whole encoded
    # value: a code of its own.
    if len(orjson.dumps(value)) > MAX_METADATA_BYTES:
        raise PydanticCustomError(
            "metadata_too_large", f"must be at most {MAX_METADATA_BYTES} bytes as JSON"
        )
    return value


# The customer's own data, echoed back unchanged in every event of the message.
Metadata = Annotated[StorableObject, AfterValidator(_metadata_size)]


def _recipient(value: object) -> object:
    if isinstance(value, str | ContactRecipient):
        if isinstance(value, str) and not 1 <= len(value) <= 256:
            raise ValueError("must be 1 to 256 characters")
        if isinstance(value, str) and not ANY_ADDRESS.fullmatch(value):
            raise ValueError("must be an address on a channel, e.g. +14155550123")
        return value
    if isinstance(value, dict):
        try:
            return ContactRecipient.model_validate(value)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise ValueError(f"{where}: {error['msg']}" if where else error["msg"]) from None
    raise ValueError('must be an address (a string) or {"contact_id": "ct_…"}')


class SendMessageRequest(ApiModel):
    """A message to send."""

    schema_rules: ClassVar = [addressed_by_channel("to", auto=True)]

    channel: Annotated[ChannelType | Literal["auto"], BeforeValidator(channel_choice)] = Field(
        description='the channel; "auto" (with a contact as `to`) picks one of the '
        "contact's by its preference, an open conversation, then cost"
    )
    to: Annotated[Address | ContactRecipient, BeforeValidator(_recipient)] = Field(
        examples=["+14155550123", {"contact_id": "ct_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"}],
        description='an address on the channel, or {"contact_id": "ct_…"}',
    )
    from_: str | None = Field(
        default=None,
        alias="from",
        min_length=1,
        max_length=256,
        description="which of the account's senders to use (its channel's id or name; on "
        "whatsapp_web the session's); the channel's default if absent (on whatsapp_web, "
        "the account's only working session)",
    )
    content: Content
    metadata: Metadata | None = Field(
        default=None, description="your own data, echoed back unchanged in every event"
    )
    reply_to: str | None = Field(default=None, min_length=1, max_length=256)
    schedule_at: ZonedDateTime | None = Field(
        default=None,
        description="send later: ISO 8601 with an offset, at most 90 days ahead; a past time "
        "sends now",
    )
    fallback: list[FallbackStepIn] = Field(
        default_factory=list,
        max_length=5,
        description="steps to try in turn when the one before fails or misses its goal",
    )
    options: SendOptions | None = Field(
        default=None, description="per-platform options, e.g. Messenger's message tag"
    )
    degrade: Boolean = Field(
        default=False,
        description="render content the channel cannot carry down to a faithful form "
        "(buttons and lists → numbered text, location → map link, contact → text, media → "
        "link) instead of refusing it with 422 unsupported_content; the message's "
        "`degraded` field records what was changed",
    )
    track_links: Boolean = Field(
        default=False,
        description="replace each http(s) link in the text (a text's `text`, a media's "
        "`caption`, an interactive's `body`, in the message and its fallback steps) by a "
        "link to the gateway's `/l/{code}`, which redirects to it and records a "
        "`message.link_clicked` event",
    )

    @model_validator(mode="after")
    def _address(self) -> SendMessageRequest:
        if isinstance(self.to, ContactRecipient):
            return self._contact_steps()
        if self.channel == AUTO:
            # An address is read on a channel; "auto" chooses among a contact's channels.
            raise semantic_error(
                "invalid_address", "to", 'must be {"contact_id": "ct_…"} when the channel is "auto"'
            )
        assert isinstance(self.channel, ChannelType)
        self.to = address_on(self.channel, self.to, "to")
        for index, step in enumerate(self.fallback):
            hint = "" if step.to else f" (the message's `to` is no {step.channel.value} address)"
            step.to = address_on(step.channel, step.to or self.to, f"fallback.{index}.to", hint)
        return self

    def _contact_steps(self) -> SendMessageRequest:
        """A step with its own ``to`` is checked; one without goes to the contact too."""
        for index, step in enumerate(self.fallback):
            if step.to is not None:
                step.to = address_on(step.channel, step.to, f"fallback.{index}.to")
        return self


class BatchRequest(ApiModel):
    """Up to 1,000 messages; each is checked on its own."""

    messages: list[StorableObject] = Field(min_length=1, max_length=MAX_BATCH)


class SendError(BaseModel):
    """Why a message failed at the platform."""

    code: str
    message: str | None = None


class MessageEventOut(BaseModel):
    """One step of a message's history."""

    type: str
    status: Status | None
    at: datetime
    detail: dict[str, Any] | None = None

    @classmethod
    def of(cls, event: MessageEvent) -> MessageEventOut:
        """Render a stored event."""
        return cls(type=event.type, status=event.status, at=event.created_at, detail=event.detail)


class ChainStep(BaseModel):
    """One step of a fallback chain."""

    step: int
    message_id: str
    channel: ChannelType
    to: str
    status: Status


class Chain(BaseModel):
    """The fallback chain a message belongs to."""

    id: str = Field(description="the id of the chain's first message")
    steps: list[ChainStep]
    pending: int = Field(description="steps not started yet")

    @classmethod
    def of(cls, steps: list[Message]) -> Chain:
        """Render a chain from its messages, first step first."""
        last = steps[-1]
        return cls(
            id=steps[0].chain_id or steps[0].id,
            steps=[
                ChainStep(
                    step=message.chain_step or 0,
                    message_id=message.id,
                    channel=message.channel,
                    to=message.recipient,
                    status=message.status,
                )
                for message in steps
            ],
            pending=0 if last.fallback_message_id else len(last.fallback),
        )


class Degraded(BaseModel):
    """What accept rendered down so that the channel could carry the message."""

    features: list[str] = Field(
        description="the features the channel lacks, as capabilities name them"
    )
    original: dict[str, Any] = Field(description="the content as the request gave it")
    reply_to: str | None = Field(
        default=None, description="the reply-to left out because the channel cannot thread"
    )


def _absent(value: object) -> bool:
    """Whether a field is left out of the answer (it has no value)."""
    return value is None


class SenderProfile(BaseModel):
    """How the platform named an inbound message's sender beyond ``from``.

    On WhatsApp: the business-scoped user id (``BR.1502576394655843``, the user's lasting
    address at this business; ``from`` is the phone when WhatsApp shared it, else this id),
    the parent id of linked business portfolios, and the username the user adopted.
    """

    user_id: str | None = Field(default=None, exclude_if=_absent, examples=["BR.1502576394655843"])
    parent_user_id: str | None = Field(
        default=None, exclude_if=_absent, examples=["BR.ENT.11815799212886844830"]
    )
    username: str | None = Field(default=None, exclude_if=_absent, examples=["joana.s"])


class MessageOut(BaseModel):
    """A message as the API shows it."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(examples=["msg_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    object: Literal["message"] = "message"
    direction: Literal["outbound", "inbound"]
    channel: ChannelType
    from_: str | None = Field(alias="from")
    to: str
    content: dict[str, Any]
    metadata: dict[str, Any] | None
    reply_to: str | None
    status: Status
    error: SendError | None
    provider_message_id: str | None
    schedule_at: datetime | None = Field(description="when a scheduled message is due")
    chain_id: str | None = Field(description="the fallback chain this message is a step of")
    degraded: Degraded | None = Field(
        default=None,
        description="what was rendered down to fit the channel (sent with degrade: true)",
    )
    price: int | None = Field(
        default=None, description="micro-units of the account's currency reserved for it"
    )
    contact_id: str | None = Field(default=None, description="the contact it went to or came from")
    route: dict[str, Any] | None = Field(
        default=None,
        description='why "channel": "auto" chose the channel: {channel, rule (preference, '
        "open_window or cost), considered}",
    )
    distribution_id: str | None = Field(default=None, description="the distribution that sent it")
    sender_profile: SenderProfile | None = Field(
        default=None,
        description="an inbound message's sender as the platform named them beyond from: "
        "WhatsApp's business-scoped user id and username",
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def fields_of(cls, message: Message) -> dict[str, Any]:
        """The model's fields taken from a stored message."""
        return {
            "id": message.id,
            "direction": message.direction,
            "channel": message.channel,
            "from": message.sender,
            "to": message.recipient,
            "content": message.content,
            "metadata": message.metadata,
            "reply_to": message.reply_to,
            "status": message.status,
            "error": SendError(code=message.error_code, message=message.error_message)
            if message.error_code
            else None,
            "provider_message_id": message.provider_message_id,
            "schedule_at": message.schedule_at,
            "chain_id": message.chain_id,
            "degraded": message.degraded,
            "price": message.price,
            "contact_id": message.contact_id,
            "route": (message.options or {}).get(ROUTE),
            "distribution_id": message.distribution_id,
            "sender_profile": (message.options or {}).get(SENDER_PROFILE),
            "created_at": message.created_at,
            "updated_at": message.updated_at,
        }

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        """Render a stored message."""
        return cls(**cls.fields_of(message))


class MessageDetail(MessageOut):
    """A message with its status history."""

    events: list[MessageEventOut]
    chain: Chain | None = Field(default=None, description="its fallback chain, if it has one")

    @classmethod
    def with_events(
        cls, message: Message, events: list[MessageEvent], chain: list[Message] | None = None
    ) -> MessageDetail:
        """Render a stored message, its history and its chain's steps."""
        return cls(
            **cls.fields_of(message),
            events=[MessageEventOut.of(e) for e in events],
            chain=Chain.of(chain) if chain else None,
        )

    @classmethod
    def new(cls, message: Message) -> MessageDetail:
        """Render a message just written, whose history is its first event."""
        first = MessageEventOut(
            type="message.status" if message.direction == "outbound" else "message.received",
            status=message.status,
            at=message.created_at,
        )
        return cls(**cls.fields_of(message), events=[first])


class MessageList(BaseModel):
    """A page of messages, newest first."""

    object: Literal["list"] = "list"
    data: list[MessageOut]
    has_more: bool
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page")


class BatchItemResult(BaseModel):
    """The outcome of one item of a batch."""

    index: int
    status: Literal["accepted", "rejected"]
    message: MessageOut | None = None
    error: ErrorBody | None = None


class BatchResponse(BaseModel):
    """One result per item, in the order given."""

    accepted: int
    rejected: int
    results: list[BatchItemResult]


class SandboxInboundRequest(ApiModel):
    """A message a simulated user sends to the account (test keys only)."""

    schema_rules: ClassVar = [addressed_by_channel("from")]

    channel: ChannelType
    from_: Address = Field(alias="from", examples=["123456789"])
    content: Content

    @model_validator(mode="after")
    def _address(self) -> SandboxInboundRequest:
        self.from_ = address_on(self.channel, self.from_, "from")
        return self
