"""MessageHub's request bodies, with its field names (camelCase, as its page writes them)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    model_validator,
)

from chatgate.api.schemas.messages import MAX_BATCH
from chatgate.domain.content import MAX_TEXT

# A week: the longest a native fallback step waits for a status.
MAX_TIMEOUT = 7 * 24 * 3600
# How long "undelivered" waits when the request gives no timeout: the page's example.
DEFAULT_TIMEOUT = 90


class Channel(StrEnum):
    """The channel codes of MessageHub's page, each Chatgate's channel of that name."""

    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    LINE = "line"
    KAKAO = "kakao"
    VIBER = "viber"
    ZALO = "zalo"
    SMS = "sms"


class ContentType(StrEnum):
    """What a send carries; ``brandmessage`` is Kakao's (advertising) brand message."""

    TEXT = "text"
    TEMPLATE = "template"
    MEDIA = "media"
    BRANDMESSAGE = "brandmessage"


class _Body(BaseModel):
    # A misspelt field is refused naming it, rather than silently left out of a message.
    model_config = ConfigDict(extra="forbid")


# A parameter's value: strings, or numbers as a JavaScript client may write them.
ParamValue = Annotated[str | StrictInt | StrictFloat, Field(union_mode="left_to_right")]
Trigger = Literal["failed", "undelivered"]
Timeout = Annotated[int, Field(ge=1, le=MAX_TIMEOUT, description="seconds, for `undelivered`")]


class FallbackStepIn(_Body):
    """One step of a fallback chain: a channel and, where it differs, the recipient there."""

    channel: Channel
    to: str | None = Field(
        default=None, min_length=1, max_length=256, description="the message's `to` if absent"
    )
    on: Trigger = "failed"
    timeout: Timeout | None = None


class FallbackIn(_Body):
    """Smart fallback: the channels to try in turn, and when to move on."""

    channels: list[Channel] = Field(min_length=1, max_length=5)
    on: Trigger = Field(
        default="failed",
        description='"failed": when the step before fails; "undelivered": when it is not '
        "delivered within `timeout` seconds (or fails)",
    )
    timeout: Timeout | None = Field(default=None, description="default 90")


def _one_form(value: object) -> object:
    """The form the value is in, checked as that form alone, so that an error names the
    field (``fallback.timeout``, ``fallback.1.channel``) rather than each form the union
    tried."""
    if not isinstance(value, list):
        return _checked(FallbackIn, value, ())
    return [_checked(FallbackStepIn, step, (index,)) for index, step in enumerate(value)]


def _checked(model: type[_Body], value: object, where: tuple[int, ...]) -> _Body:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(part) for part in (*where, *error["loc"]))
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ValueError(f"{path}: {message}" if path else message) from None


Fallback = Annotated[
    FallbackIn | list[FallbackStepIn],
    BeforeValidator(_one_form),
    Field(
        description='{"channels": [...], "on": "failed" | "undelivered", "timeout": 90}, or '
        'a list of steps {"channel", "to"?, "on"?, "timeout"?}'
    ),
]


class ContentFields(_Body):
    """What a message carries, as MessageHub's send and distribute both take it."""

    content: str | None = Field(
        default=None, min_length=1, max_length=MAX_TEXT, description="text, or a media's caption"
    )
    contentType: ContentType = Field(
        default=ContentType.TEXT, description="text (default), template, media, brandmessage"
    )
    templateId: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="template name (required if contentType is template)",
    )
    templateParams: dict[str, ParamValue] | None = Field(
        default=None, description="template parameters as key-value pairs"
    )
    mediaUrl: str | None = Field(
        default=None, min_length=1, max_length=2048, description="URL of media to attach"
    )

    @model_validator(mode="after")
    def _complete(self) -> ContentFields:
        kind = self.contentType
        if kind is ContentType.TEMPLATE:
            if self.templateId is None:
                raise ValueError("templateId: is required when contentType is template")
            if self.content is not None or self.mediaUrl is not None:
                raise ValueError(
                    "content: a template carries its own text; pass its values in templateParams"
                )
            return self
        if self.templateId is not None or self.templateParams is not None:
            raise ValueError(f"templateId: only a template takes one (contentType is {kind})")
        if kind is ContentType.MEDIA and self.mediaUrl is None:
            raise ValueError("mediaUrl: is required when contentType is media")
        if self.content is None and self.mediaUrl is None:
            raise ValueError("content: is required")
        return self


class SendRequest(ContentFields):
    """``POST messages/send``: one message."""

    to: str = Field(
        min_length=1, max_length=256, description="phone number (+919876543210) or platform id"
    )
    channel: Channel
    fallback: Fallback | None = None


class BatchRequest(_Body):
    """``POST messages/batch``: up to 1,000 send bodies, each checked on its own."""

    messages: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


class Recipient(_Body):
    """One recipient of a distribution."""

    to: str = Field(min_length=1, max_length=256)
    channel: Channel


class DistributeRequest(ContentFields):
    """``POST content/distribute``: one content to listed recipients and/or contacts."""

    recipients: list[Any] = Field(
        default_factory=list, max_length=MAX_BATCH, description='[{"to", "channel"}]'
    )
    contactIds: list[Annotated[str, Field(pattern=r"^ct_[0-9A-Z]{26}$")]] = Field(
        default_factory=list, max_length=MAX_BATCH, description="stored contacts (ct_…)"
    )
    channel: Channel | None = Field(
        default=None,
        description="the channel for contactIds; absent, each contact's is chosen by its "
        "preference, an open conversation, then cost",
    )

    @model_validator(mode="after")
    def _someone(self) -> DistributeRequest:
        if not self.recipients and not self.contactIds:
            raise ValueError("recipients: give recipients, contactIds, or both")
        if len(self.recipients) + len(self.contactIds) > MAX_BATCH:
            raise ValueError(f"recipients: at most {MAX_BATCH} recipients and contacts in all")
        return self


# The page's own requests, shown in the OpenAPI document (and tried by its fuzzing).
SEND_EXAMPLES: dict[str, dict[str, Any]] = {
    "text": {
        "summary": "Send your first message",
        "value": {
            "to": "+919876543210",
            "channel": "whatsapp",
            "content": "Hello from MessageHub API!",
        },
    },
    "whatsapp_template": {
        "summary": "WhatsApp template message",
        "value": {
            "to": "+919876543210",
            "channel": "whatsapp",
            "contentType": "template",
            "templateId": "order_confirmation",
            "templateParams": {
                "customer_name": "Rajesh",
                "order_id": "1234",
                "delivery_date": "2026-02-15",
            },
        },
    },
    "kakao_alimtalk": {
        "summary": "Kakao AlimTalk (Korea via NHN Cloud BSP)",
        "value": {
            "to": "+821012345678",
            "channel": "kakao",
            "contentType": "template",
            "templateId": "order_confirm_001",
            "templateParams": {
                "고객명": "Kim Minjun",
                "주문번호": "ORD-5678",
                "상품명": "Galaxy Watch 7",
                "금액": "399,000",
            },
        },
    },
    "kakao_brand_message": {
        "summary": "Kakao brand message",
        "value": {
            "to": "+821012345678",
            "channel": "kakao",
            "content": "특별 할인! 30% 쿠폰을 지금 받아가세요.",
            "contentType": "brandmessage",
        },
    },
    "fallback": {
        "summary": "Smart fallback: WhatsApp, then SMS if it is not delivered in 90 s",
        "value": {
            "to": "+919876543210",
            "channel": "whatsapp",
            "contentType": "template",
            "templateId": "order_confirmation",
            "templateParams": {"order_id": "1234"},
            "fallback": {"channels": ["sms"], "on": "undelivered", "timeout": 90},
        },
    },
}
