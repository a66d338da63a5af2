"""WhautoChat's request bodies, with its field names (``recepient`` as the page spells it).

One model per schema of the page. Each says who the message is for (``contact``, or on
WhatsApp ``recepient``), whose workspace sends it, and what it carries; :mod:`.translate`
makes the native send of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from chatgate.api.schemas.common import ApiModel, iso_date_time
from chatgate.domain.content import MAX_TEXT


class _Vendor(BaseModel):
    """One of WhautoChat's own objects (a contact, a workspace): a client may pass it whole,
    so the fields Chatgate does not read are ignored."""

    model_config = ConfigDict(extra="ignore")


class ContactRef(_Vendor):
    """An existing contact, sent to its identity on the route's channel."""

    id: str = Field(min_length=1, max_length=256, description="the contact's id, ct_…")


class Workspace(_Vendor):
    """The workspace sending the message: the key's account."""

    id: str = Field(
        min_length=1, max_length=256, description="your account's id, as GET /v1/account shows it"
    )


class PhoneRecipient(_Vendor):
    """A WhatsApp user by phone number."""

    phoneNumber: str = Field(
        min_length=1,
        max_length=32,
        description="E.164, e.g. +14155550123 (digits without the + are read as E.164 too)",
    )


def _utc(value: datetime) -> datetime:
    # The page shows no offset in its times: a time without one is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


ScheduleTime = Annotated[datetime, BeforeValidator(iso_date_time), AfterValidator(_utc)]

_SCHEDULE = Field(
    default=None,
    description="send later: ISO 8601, UTC without an offset, at most 90 days ahead; a past "
    "time sends now",
    examples=["2030-01-31T09:30:00"],
)
_TEXT = Field(min_length=1, max_length=MAX_TEXT, description="the message text")
_MEDIA_URL = Field(min_length=1, max_length=2048, description="the media file's public URL")
_MIME_TYPE = Field(
    max_length=127,
    # A type, and parameters the platforms do not need (audio/ogg; codecs=opus).
    pattern=r"^[\w.+-]+/[\w.+-]+(?:\s*;[^\x00]*)?$",
    description="the file's MIME type: image/…, video/… and audio/… are sent as such, others "
    "as a document",
    examples=["image/jpeg"],
)
_WHATSAPP_ONLY = "sends to a phone number on WhatsApp only; on this channel give contact (its id)"


class _Request(ApiModel):
    """What every request has: who it is for and whose workspace sends it.

    As every request body, it refuses a misspelt field naming it (rather than leave it out
    of the message) and text that cannot be stored as given (a NUL character).
    """

    contact: ContactRef | None = Field(default=None, description="an existing contact")
    workspace: Workspace

    @model_validator(mode="before")
    @classmethod
    def _contacts_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and not cls.by_phone:
            for name in ("recepient", "recipient"):
                if name in data:
                    raise ValueError(f"{name}: {_WHATSAPP_ONLY}")
        return data

    # Whether the route may send to a phone number (``recepient``): WhatsApp's do.
    by_phone: ClassVar[bool] = False

    def phone(self) -> str | None:
        """The phone number the message is for, when it is not for a contact."""
        return None


class _Direct(_Request):
    """A WhatsApp request: to a contact or straight to a phone number."""

    by_phone: ClassVar[bool] = True

    recepient: PhoneRecipient | None = Field(
        default=None, description="a phone number (the page's spelling), instead of contact"
    )
    recipient: PhoneRecipient | None = Field(
        default=None, description="the same as recepient, spelt the usual way"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> _Direct:
        given = [
            name
            for name in ("contact", "recepient", "recipient")
            if getattr(self, name) is not None
        ]
        if not given:
            raise ValueError(
                "contact: give either contact (with id) or recepient (with phoneNumber)"
            )
        if len(given) > 1:
            raise ValueError(f"{given[1]}: give either contact or recepient, not both")
        return self

    def phone(self) -> str | None:
        """``recepient``'s (or ``recipient``'s) phone number, if one was given."""
        chosen = self.recepient or self.recipient
        return chosen.phoneNumber if chosen is not None else None


class _ToContact(_Request):
    """A request on a channel without phone numbers: to a contact."""

    @model_validator(mode="after")
    def _someone(self) -> _ToContact:
        if self.contact is None:
            raise ValueError("contact: is required (with the contact's id)")
        return self


class TextMessageRequest(_ToContact):
    """A text message to a contact (Messenger, Instagram)."""

    textMessage: str = _TEXT
    scheduleDateTime: ScheduleTime | None = _SCHEDULE


class WhatsAppTextMessageRequest(_Direct):
    """A WhatsApp text message to a contact or a phone number."""

    textMessage: str = _TEXT
    scheduleDateTime: ScheduleTime | None = _SCHEDULE


class MediaMessageRequest(_ToContact):
    """A media message to a contact (Messenger)."""

    mediaUrl: str = _MEDIA_URL
    mimeType: str = _MIME_TYPE
    scheduleDateTime: ScheduleTime | None = _SCHEDULE


class WhatsAppMediaMessageRequest(_Direct):
    """A WhatsApp media message to a contact or a phone number."""

    mediaUrl: str = _MEDIA_URL
    mimeType: str = _MIME_TYPE
    scheduleDateTime: ScheduleTime | None = _SCHEDULE


class TemplateRef(BaseModel):
    """An approved WhatsApp template by name and language."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=512, description="the template's name")
    language: str = Field(default="en", min_length=2, max_length=15, description="e.g. en_US")


class WhatsAppTemplateMessageRequest(_Direct):
    """A WhatsApp template message: the template's name, or its name and language."""

    template: str | TemplateRef = Field(
        description='the template\'s name (language "en"), or {"name", "language"}',
        examples=["order_shipped", {"name": "order_shipped", "language": "en_US"}],
    )


class MessengerButton(_Vendor):
    """One of Messenger's button objects (its other fields, such as
    ``webview_height_ratio``, are accepted and not carried)."""

    type: Literal["web_url", "postback", "phone_number"] = Field(
        description="web_url opens url; postback sends payload back; phone_number (Messenger "
        "only) calls payload"
    )
    title: str = Field(min_length=1, max_length=40)
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    payload: str | None = Field(default=None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _target(self) -> MessengerButton:
        needed = "url" if self.type == "web_url" else "payload"
        if getattr(self, needed) is None:
            raise ValueError(f"{needed}: a {self.type} button needs {needed}")
        return self


class DefaultAction(_Vendor):
    """What tapping the card opens."""

    type: Literal["web_url"] = "web_url"
    url: str = Field(min_length=1, max_length=2048)


class Element(_Vendor):
    """One card of a generic template."""

    title: str = Field(min_length=1, max_length=80)
    subtitle: str | None = Field(default=None, max_length=80)
    image_url: str | None = Field(default=None, min_length=1, max_length=2048)
    default_action: DefaultAction | None = None
    buttons: list[MessengerButton] = Field(default_factory=list, max_length=3)


class MessengerTemplateMessageRequest(_ToContact):
    """A generic template (cards) to a Messenger contact."""

    elements: list[Element] = Field(min_length=1, max_length=10)


class InstagramTemplateMessageRequest(_ToContact):
    """A generic template (cards) to an Instagram contact."""

    elements: list[Element] = Field(min_length=1, max_length=10)


class TelegramButton(BaseModel):
    """A Telegram inline-keyboard button: ``callback_data`` or ``url``."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=40)
    callback_data: str | None = Field(default=None, min_length=1, max_length=64)
    url: str | None = Field(default=None, min_length=1, max_length=2048)

    @model_validator(mode="after")
    def _one_action(self) -> TelegramButton:
        if (self.callback_data is None) == (self.url is None):
            raise ValueError("callback_data: a button has callback_data or url (one of them)")
        return self


def _checked_button(raw: object, where: str) -> TelegramButton:
    try:
        return TelegramButton.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(part) for part in (where, *error["loc"]))
        if error["type"] == "extra_forbidden":
            raise ValueError(f"{path}: Chatgate sends callback_data and url buttons only") from None
        message = str(error["msg"]).removeprefix("Value error, ")
        if ": " in message and error["type"] == "value_error":
            field, _, message = message.partition(": ")
            path = f"{where}.{field}"
        raise ValueError(f"{path}: {message}") from None


def _keyboard(value: object) -> list[list[TelegramButton]]:
    """A flat list of buttons (one row) or a list of rows, as rows; each error names its
    button as the request placed it (``buttons.1`` or ``buttons.1.0``)."""
    if not isinstance(value, list):
        raise ValueError("must be a list of buttons, or a list of rows of buttons")
    if value and all(isinstance(item, list) for item in value):
        return [
            [_checked_button(button, f"{r}.{c}") for c, button in enumerate(row)]
            for r, row in enumerate(value)
        ]
    return [[_checked_button(button, str(index)) for index, button in enumerate(value)]]


_BUTTON_SCHEMA = TelegramButton.model_json_schema()


class TelegramTemplateMessageRequest(_ToContact):
    """A Telegram text with an inline keyboard, to a contact."""

    textMessage: str = _TEXT
    buttons: Annotated[list[list[TelegramButton]], BeforeValidator(_keyboard)] = Field(
        default_factory=list,
        description="inline-keyboard buttons: a list is one row, a list of lists is rows; "
        "none: a plain text",
        json_schema_extra={
            "items": {"anyOf": [_BUTTON_SCHEMA, {"type": "array", "items": _BUTTON_SCHEMA}]}
        },
    )

    _rows_given: bool = PrivateAttr(default=False)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_the_form(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # Both forms become rows; errors name a button as the request placed it.
        model = handler(data)
        buttons = data.get("buttons") if isinstance(data, dict) else None
        if isinstance(model, cls) and isinstance(buttons, list) and buttons:
            model._rows_given = all(isinstance(item, list) for item in buttons)
        return model

    def rows_given(self) -> bool:
        """Whether ``buttons`` came as a list of rows (else as one flat row)."""
        return self._rows_given
