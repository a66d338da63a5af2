"""The body of ``POST ?action=send`` with Thikaa's field names, and the native send it is.

The body is parsed into the very request the native ``POST /v1/messages`` takes (so every
rule of an address, a media URL or a caption is the native one) and from there into the
same :class:`SendCommand`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chatgate.api.errors import describe_validation_error
from chatgate.api.routes.messages import command_of
from chatgate.api.schemas.messages import SendMessageRequest
from chatgate.compat.thikaa.channels import CHANNEL_DESCRIPTION, CHANNEL_TYPES, ThikaaChannel
from chatgate.compat.thikaa.errors import thikaa_field
from chatgate.domain.content import MAX_TEXT, MediaKind
from chatgate.errors import InvalidRequest
from chatgate.services.send_command import SendCommand

_NATIVE = TypeAdapter(SendMessageRequest)
_NO_KIND = (
    "cannot tell the media type from media_url's file extension; keep a real extension "
    "(.jpg, .pdf, .mp4 …) or set media_type to image, document, video or audio"
)


class SendBody(BaseModel):
    """A message to send, as the page's table names its fields."""

    # The vendor's own server ignores what it does not know; so does this one.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            # The page's two examples, with a number in place of its placeholder.
            "examples": [
                {"channel": "wd", "to": "+966500000001", "message": "Your order has shipped 🚚✅"},
                {
                    "channel": "wd",
                    "to": "+966500000001",
                    "message": "فاتورتك 📄",
                    "media_url": "https://you.com/invoice.pdf",
                    "media_type": "document",
                },
            ]
        },
    )

    channel: ThikaaChannel = Field(description=CHANNEL_DESCRIPTION)
    to: str = Field(
        min_length=1,
        max_length=256,
        description="Recipient (phone in E.164 for WhatsApp; chat/PSID/open-id for others)",
        examples=["+966500000001"],
    )
    message: str | None = Field(
        default=None,
        max_length=MAX_TEXT,
        description="Text + emoji (UTF-8). Optional if media_url is given (then its caption)",
    )
    media_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Public URL of an image / PDF / video / audio to attach",
    )
    media_type: MediaKind | None = Field(
        default=None,
        description="image · document · video · audio; from media_url's file extension if absent",
    )

    def content(self) -> dict[str, Any]:
        """The native content: media (``message`` its caption) when ``media_url`` is given,
        else text."""
        if self.media_url is not None:
            media: dict[str, Any] = {"url": self.media_url}
            if self.media_type is not None:
                media["kind"] = self.media_type.value
            if self.message:
                media["caption"] = self.message
            return {"type": "media", "media": media}
        if not self.message:
            raise InvalidRequest("is required unless media_url is given", field="message")
        return {"type": "text", "text": self.message}

    def command(self) -> SendCommand:
        """The send command the native API would build for this message."""
        native = {
            "channel": CHANNEL_TYPES[self.channel].value,
            "to": self.to,
            "content": self.content(),
        }
        try:
            request = _NATIVE.validate_python(native)
        except ValidationError as exc:
            code, field, message = describe_validation_error(dict(exc.errors()[0]))
            name = thikaa_field(field)
            raise InvalidRequest(
                _NO_KIND if name == "media_type" else message, code=code, field=name
            ) from None
        return command_of(request)
