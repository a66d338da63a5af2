"""The body of ``sendMessage`` v2 and its payloads, and the native content each one is.

The page names its payload types (``BikTextMessagePayload`` …) without their fields; the
field names here are Chatgate's decision (the package docstring and the README show one
example each). A payload is checked by its type's model, every problem reported, and then
becomes the very content ``POST /v1/messages`` takes, checked by the native model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatgate.api.errors import describe_validation_error
from chatgate.domain.commerce import AddressValues
from chatgate.errors import InvalidRequest

MAX_CALLBACK_DATA = 1024
_DIGITS = re.compile(r"^[0-9]{6,15}$")


class BikType(StrEnum):
    """The page's message types."""

    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    DOCUMENT = "document"
    OPTIONS = "options"
    BUTTONS = "buttons"
    ADDRESS = "address"
    SINGLE_PRODUCT = "single_product"
    MULTIPLE_PRODUCT = "multiple_product"


class _Payload(BaseModel):
    # A misspelt field would send another message than meant: it is refused, named.
    model_config = ConfigDict(extra="forbid")


class BikTextMessagePayload(_Payload):
    """``text``: ``{"message"}``."""

    message: str = Field(description="the text")


class BikMediaMessagePayload(_Payload):
    """``image``, ``video``, ``document``: ``{"url", "caption"?, "filename"?}``."""

    url: str = Field(description="a public http(s) URL of the file")
    caption: str | None = None
    filename: str | None = Field(default=None, description="a document's file name")


class BikRow(_Payload):
    """One choice of an options list."""

    id: str
    title: str
    description: str | None = None


class BikSection(_Payload):
    """A titled group of an options list."""

    title: str | None = None
    rows: list[BikRow]


class BikOptionsPayload(_Payload):
    """``options``: a list message, ``{"message", "buttonText", "sections"}``."""

    message: str
    buttonText: str = Field(description="the text of the button that opens the list")
    sections: list[BikSection]
    header: str | None = None
    footer: str | None = None


class BikButton(_Payload):
    """One reply button."""

    id: str
    title: str


class BikButtonsPayload(_Payload):
    """``buttons``: up to 3 reply buttons, ``{"message", "buttons": [{"id", "title"}]}``."""

    message: str
    buttons: list[BikButton] = Field(min_length=1, max_length=3)
    header: str | None = None
    footer: str | None = None


class BikAddressMessagePayload(_Payload):
    """``address``: WhatsApp's address form, ``{"message", "country", "values"?}``."""

    message: str
    country: str = Field(description="IN or SG")
    values: AddressValues | None = None
    header: str | None = None
    footer: str | None = None


class BikProductMessagePayload(_Payload):
    """``single_product``: ``{"catalogId", "productId", "message"?}``."""

    catalogId: str
    productId: str
    message: str | None = None
    footer: str | None = None


class BikProductSection(_Payload):
    """A titled group of a catalog's items."""

    title: str | None = None
    productIds: list[str]


class BikMultipleProductPayload(_Payload):
    """``multiple_product``: ``{"header", "message", "catalogId", "sections"}``."""

    header: str
    message: str
    catalogId: str
    sections: list[BikProductSection]
    footer: str | None = None


PAYLOADS: dict[BikType, type[_Payload]] = {
    BikType.TEXT: BikTextMessagePayload,
    BikType.IMAGE: BikMediaMessagePayload,
    BikType.VIDEO: BikMediaMessagePayload,
    BikType.DOCUMENT: BikMediaMessagePayload,
    BikType.OPTIONS: BikOptionsPayload,
    BikType.BUTTONS: BikButtonsPayload,
    BikType.ADDRESS: BikAddressMessagePayload,
    BikType.SINGLE_PRODUCT: BikProductMessagePayload,
    BikType.MULTIPLE_PRODUCT: BikMultipleProductPayload,
}


class SendMessageBody(BaseModel):
    """A message to send, as the page's table names its fields."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # The page's sample request.
            "examples": [
                {
                    "contactIdentifier": "+919900990090",
                    "medium": "whatsapp",
                    "type": "text",
                    "payload": {"message": "This is a test message."},
                    "callbackData": '{"order_id":"ORD123","campaign":"summer_sale"}',
                }
            ]
        },
    )

    medium: str = Field(description="Messages will be sent through this medium: whatsapp")
    contactIdentifier: str = Field(
        min_length=1, max_length=64, description="Phone number of user", examples=["+919900990090"]
    )
    type: BikType = Field(description="Message type")
    businessPhoneNumber: str | None = Field(
        default=None,
        max_length=64,
        description="Business phone number from which you want to send the message: the "
        "WhatsApp channel named by that number, else the account's default one",
    )
    payload: dict[str, Any] = Field(
        description="BikTextMessagePayload, BikMediaMessagePayload, BikInteractiveMessagePayload, "
        "BikAddressMessagePayload or BikProductMessagePayload, by type"
    )
    callbackData: str | None = Field(
        default=None,
        description="Stringified JSON (max 1024 characters), echoed back unchanged in "
        "status-update and link-click webhooks",
    )

    @field_validator("medium")
    @classmethod
    def _whatsapp(cls, value: str) -> str:
        if value != "whatsapp":
            raise ValueError("must be whatsapp: messages are sent through whatsapp for now")
        return value

    @field_validator("callbackData")
    @classmethod
    def _json_text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value:
            raise ValueError("must be a non-empty string")
        if len(value) > MAX_CALLBACK_DATA:
            raise ValueError(f"must be at most {MAX_CALLBACK_DATA} characters")
        try:
            json.loads(value)
        except ValueError:
            raise ValueError("must be valid, parseable JSON") from None
        return value

    def recipient(self) -> str:
        """The user's phone in E.164: a number of digits alone gets its ``+``."""
        number = self.contactIdentifier.strip()
        return f"+{number}" if _DIGITS.fullmatch(number) else number

    def content(self) -> dict[str, Any]:
        """The native content of the payload, or the refusal listing every problem of it."""
        model = PAYLOADS[self.type]
        try:
            payload = model.model_validate(self.payload)
        except ValidationError as exc:
            raise every_problem(exc, _in_payload) from None
        return _native(self.type, payload)


def every_problem(exc: ValidationError, name: Callable[[str | None], str | None]) -> InvalidRequest:
    """A refusal listing every problem of ``exc`` (in ``details["errors"]``), each field
    named by ``name``."""
    problems: list[dict[str, Any]] = []
    for error in exc.errors():
        code, field, message = describe_validation_error(dict(error))
        problems.append({"code": code, "field": name(field), "message": message})
    first = problems[0]
    return InvalidRequest(
        str(first["message"]),
        code=first["code"],
        field=first["field"],
        details={"errors": problems},
    )


def _in_payload(field: str | None) -> str:
    return "payload" if field in (None, "body") else f"payload.{field}"


def _optional(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _native(kind: BikType, payload: Any) -> dict[str, Any]:
    """The native content of a checked payload."""
    if isinstance(payload, BikTextMessagePayload):
        return {"type": "text", "text": payload.message}
    if isinstance(payload, BikMediaMessagePayload):
        media = _optional(
            url=payload.url, kind=kind.value, caption=payload.caption, filename=payload.filename
        )
        return {"type": "media", "media": media}
    interactive = _optional(
        header=getattr(payload, "header", None),
        body=payload.message,
        footer=getattr(payload, "footer", None),
    )
    if isinstance(payload, BikOptionsPayload):
        sections = [
            _optional(title=s.title, rows=[r.model_dump(exclude_none=True) for r in s.rows])
            for s in payload.sections
        ]
        interactive.update(kind="list", button_text=payload.buttonText, sections=sections)
    elif isinstance(payload, BikButtonsPayload):
        buttons = [{"type": "reply", "id": b.id, "title": b.title} for b in payload.buttons]
        interactive.update(kind="buttons", buttons=buttons)
    elif isinstance(payload, BikAddressMessagePayload):
        form = _optional(
            country=payload.country,
            values=payload.values.model_dump(exclude_none=True) if payload.values else None,
        )
        interactive.update(kind="address", address=form)
    elif isinstance(payload, BikProductMessagePayload):
        interactive.update(
            kind="product", catalog_id=payload.catalogId, product_id=payload.productId
        )
    else:
        assert isinstance(payload, BikMultipleProductPayload)
        sections = [_optional(title=s.title, product_ids=s.productIds) for s in payload.sections]
        interactive.update(kind="product_list", catalog_id=payload.catalogId, sections=sections)
    return {"type": "interactive", "interactive": interactive}
