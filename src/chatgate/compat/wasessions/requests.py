"""The page's request bodies, as it prints them; unknown fields are refused (400 naming
them), so that a misspelt field never sends another message than meant."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from chatgate.api.schemas.common import ApiModel
from chatgate.api.schemas.sessions import SessionName
from chatgate.domain.content_base import MAX_CAPTION, MAX_TEXT, Boolean, WebUrl

# E.164, as the page writes it ("+237612345678"); digits alone are read with a "+".
Phone = Annotated[
    str,
    StringConstraints(pattern=r"^\s*\+?[1-9](?:[ ().\-]{0,2}[0-9]){6,14}\s*$"),
    Field(examples=["+237612345678"]),
]
# A session as a send names it: its session_key, or its id (a UUID or ses_…).
SessionReference = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")
]
SessionId = Annotated[
    str,
    StringConstraints(
        pattern=r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
        r"|ses_[0-7][0-9A-HJKMNP-TV-Z]{25})$"
    ),
]


class _Send(ApiModel):
    """What every send has: the recipient, and the session to send from if not the default."""

    to: Phone = Field(description="the recipient's phone number, E.164")
    session: SessionReference | None = Field(
        default=None,
        description="the session to send from, by its session_key or id; without it (and "
        "without sessionId), the account's only working session, or its oldest working one",
    )
    sessionId: SessionId | None = Field(
        default=None, description="the session to send from, by its id (the UUID)"
    )


class TextMessage(_Send):
    """``POST /messages``."""

    message: str = Field(min_length=1, max_length=MAX_TEXT, examples=["Hello from WhatsApp API!"])


class MediaMessage(_Send):
    """``POST /messages/media``: an image or a video, with a caption."""

    mediaUrl: WebUrl = Field(examples=["https://example.com/image.jpg"])
    mediaType: Literal["image", "video"]
    caption: str | None = Field(default=None, max_length=MAX_CAPTION)


class AudioMessage(_Send):
    """``POST /messages/audio``: a voice note (``ptt: true``) or an audio file."""

    audioUrl: WebUrl = Field(examples=["https://example.com/voice.ogg"])
    ptt: Boolean = Field(
        default=False, description="true: a voice note (push to talk); false: an audio file"
    )


class CreateSession(ApiModel):
    """``POST /sessions``: a new session, named by the client."""

    session_key: SessionName = Field(examples=["my-session"])


class UpdateSession(ApiModel):
    """``PATCH /sessions/{id}``: a new session_key, or a change of whether it runs."""

    session_key: SessionName | None = None
    status: Literal["connecting", "disconnected"] | None = Field(
        default=None,
        description="connecting: run a disconnected or failed session again (a device "
        "logged out shows a new QR code); disconnected: stop it, the device staying linked",
    )


class CreateKey(ApiModel):
    """``POST /keys``: a new key of this API for the caller's account."""

    name: str = Field(default="api key", min_length=1, max_length=100, pattern=r"^[^\x00]+$")
