"""What a message carries: a typed union discriminated by ``type``.

Each kind has its own fields. Adapters translate these shapes to each platform's wire
format; nothing here knows about a platform. Text is kept exactly as given (emoji and any
UTF-8 round-trip byte-exact); only strings that cannot be stored faithfully are refused.
"""

from __future__ import annotations

import posixpath
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from chatgate.domain.content_base import (
    MAX_CAPTION,
    MAX_TEXT,
    Boolean,
    Integer,
    Number,
    StrictModel,
    WebUrl,
    json_integer,
)
from chatgate.domain.free_form import PropertyNames
from chatgate.domain.interactive import (
    BUTTON_TARGETS,
    Button,
    Card,
    Interactive,
    ListRow,
    ListSection,
)
from chatgate.domain.schema_rules import branch


class MediaKind(StrEnum):
    """The kind of a media attachment."""

    IMAGE = "image"
    DOCUMENT = "document"
    VIDEO = "video"
    AUDIO = "audio"


_EXTENSION_KINDS: dict[str, MediaKind] = {
    **dict.fromkeys(("jpg", "jpeg", "png", "gif", "webp", "bmp", "heic"), MediaKind.IMAGE),
    **dict.fromkeys(("mp4", "3gp", "3gpp", "mov", "webm", "mkv", "avi"), MediaKind.VIDEO),
    **dict.fromkeys(("mp3", "ogg", "oga", "opus", "aac", "m4a", "amr", "wav"), MediaKind.AUDIO),
    **dict.fromkeys(
        ("pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "csv", "zip", "rtf"),
        MediaKind.DOCUMENT,
    ),
}


def media_kind_from_url(url: str) -> MediaKind | None:
    """Guess a media kind from the URL path's extension, or ``None`` when it says nothing."""
    extension = posixpath.splitext(urlsplit(url).path)[1].lower().lstrip(".")
    return _EXTENSION_KINDS.get(extension)


_Strict = StrictModel


class _Content(_Strict):
    schema_requires_type: ClassVar[bool] = True


def _extension_pattern(kinds: set[MediaKind]) -> str:
    """A URL whose path ends in an extension of one of ``kinds`` (any letter case), as
    :func:`media_kind_from_url` reads it."""
    extensions = "|".join(
        "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in extension)
        for extension, kind in _EXTENSION_KINDS.items()
        if kind in kinds
    )
    return rf"^[^:/?#]+://[^/?#]*/(?:[^?#]*/)?[^/?#.][^/?#]*\.(?:{extensions})(?:[?#].*)?$"


_ANY_KIND = set(MediaKind)


class Media(_Strict):
    """A file the platform fetches from ``url``."""

    # What ``_resolve_kind`` checks: a kind, or a URL that tells it; a voice note is audio.
    schema_rules: ClassVar = [
        [
            branch(["kind"], kind={"type": "string"}),
            branch(url={"pattern": _extension_pattern(_ANY_KIND)}),
        ],
        [
            branch(voice={"const": False}),
            branch(["kind"], kind={"const": "audio"}),
            branch(kind={"type": "null"}, url={"pattern": _extension_pattern({MediaKind.AUDIO})}),
        ],
    ]

    url: WebUrl
    kind: MediaKind | None = Field(
        default=None, description="image, document, video or audio; guessed from the URL if absent"
    )
    caption: str | None = Field(default=None, max_length=MAX_CAPTION)
    filename: str | None = Field(default=None, min_length=1, max_length=255)
    voice: Boolean = Field(default=False, description="an audio file sent as a voice note")
    mime_type: str | None = Field(default=None, max_length=127, pattern=r"^[\w.+-]+/[\w.+-]+$")

    @model_validator(mode="after")
    def _resolve_kind(self) -> Media:
        kind = self.kind or media_kind_from_url(str(self.url))
        if kind is None:
            raise ValueError(
                "kind: cannot tell the media kind from the URL; set kind to "
                "image, document, video or audio"
            )
        if self.voice and kind is not MediaKind.AUDIO:
            raise ValueError("voice: only audio can be sent as a voice note")
        object.__setattr__(self, "kind", kind)
        return self


class TextContent(_Content):
    """Plain text, emoji included."""

    type: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    preview_url: Boolean = False


class MediaContent(_Content):
    """An image, document, video or audio file, with an optional caption."""

    type: Literal["media"] = "media"
    media: Media


class TemplateButton(_Strict):
    """A parameter for one button of a template (quick-reply payload or URL suffix)."""

    index: Integer = Field(ge=0, le=9)
    sub_type: Literal["quick_reply", "url"] = "quick_reply"
    value: str = Field(min_length=1, max_length=2000)


class TemplateHeader(_Strict):
    """A template's header parameter: text or a media file."""

    text: str | None = Field(default=None, min_length=1, max_length=60)
    media: Media | None = None

    schema_one_of: ClassVar = [
        branch(["text"], text={"type": "string"}),
        branch(["media"], media={"type": "object"}),
    ]

    @model_validator(mode="after")
    def _one_of(self) -> TemplateHeader:
        if (self.text is None) == (self.media is None):
            raise ValueError("header takes exactly one of text or media")
        return self


class Template(_Strict):
    """A pre-approved template with its variables, or a template stored in Chatgate (named
    by ``id``, or by ``name`` and ``language``), rendered for the channel at accept."""

    schema_rules: ClassVar = [
        [branch(["id"], id={"type": "string"}), branch(["name"], name={"type": "string"})]
    ]

    id: str | None = Field(
        default=None,
        pattern=r"^tpl_[0-9A-Z]{26}$",
        description="a stored template's id, tpl_…; then name may be left out",
    )
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        pattern=r"^[\w.\-]+$",
        description="the platform's (or a stored) template name; required without id",
    )
    language: str = Field(default="en", min_length=2, max_length=15, pattern=r"^[A-Za-z_\-]+$")
    # A name is never empty (``_variables_fit``); the schema states it of the keys.
    variables: Annotated[dict[str, str], PropertyNames(r"^[^\x00]+$")] | list[str] = Field(
        default_factory=dict, description='named ({"name": value}) or positional ([v1, v2])'
    )
    header: TemplateHeader | None = None
    buttons: list[TemplateButton] = Field(default_factory=list, max_length=10)

    @field_validator("variables")
    @classmethod
    def _variables_fit(cls, value: dict[str, str] | list[str]) -> dict[str, str] | list[str]:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        if len(value) > 100:
            raise ValueError("at most 100 variables")
        for key, text in items:
            if isinstance(key, str) and not key:
                raise ValueError("variable names must not be empty")
            if len(text) > MAX_CAPTION:
                raise ValueError(f"variable {key!r} is longer than {MAX_CAPTION} characters")
        return value

    @model_validator(mode="after")
    def _named(self) -> Template:
        if self.id is None and self.name is None:
            raise ValueError("name: is required (or id, naming a stored template)")
        return self


class TemplateContent(_Content):
    """A template message (required outside a service window on some channels)."""

    type: Literal["template"] = "template"
    template: Template


class InteractiveContent(_Content):
    """Reply buttons, link buttons, a list of choices, or a commerce message."""

    type: Literal["interactive"] = "interactive"
    interactive: Interactive


class Location(_Strict):
    """A point on the map, optionally named."""

    latitude: Number = Field(ge=-90, le=90)
    longitude: Number = Field(ge=-180, le=180)
    name: str | None = Field(default=None, max_length=1000)
    address: str | None = Field(default=None, max_length=1000)


class LocationContent(_Content):
    """A location pin."""

    type: Literal["location"] = "location"
    location: Location


class ContactCard(_Strict):
    """A person's card: a name and at least one phone or email."""

    schema_rules: ClassVar = [
        [
            branch(["phones"], phones={"minItems": 1}),
            branch(["emails"], emails={"minItems": 1}),
        ]
    ]

    name: str = Field(min_length=1, max_length=200)
    phones: list[str] = Field(default_factory=list, max_length=10)
    emails: list[str] = Field(default_factory=list, max_length=10)
    organization: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _reachable(self) -> ContactCard:
        if not self.phones and not self.emails:
            raise ValueError("phones: a contact card needs at least one phone or email")
        return self


class ContactContent(_Content):
    """One or more contact cards."""

    type: Literal["contact"] = "contact"
    contacts: list[ContactCard] = Field(min_length=1, max_length=10)


class Reaction(_Strict):
    """An emoji reaction to an earlier message; an empty emoji removes the reaction."""

    message_id: str = Field(min_length=1, max_length=256)
    emoji: str = Field(max_length=16)


class ReactionContent(_Content):
    """A reaction to a message."""

    type: Literal["reaction"] = "reaction"
    reaction: Reaction


class Sticker(_Strict):
    """A platform's sticker, named by its package and its id in that package (LINE's
    ``packageId`` and ``stickerId``)."""

    package_id: str = Field(min_length=1, max_length=20, pattern=r"^[0-9]+$")
    sticker_id: str = Field(min_length=1, max_length=20, pattern=r"^[0-9]+$")


class StickerContent(_Content):
    """A sticker sent alone."""

    type: Literal["sticker"] = "sticker"
    sticker: Sticker


Content = Annotated[
    TextContent
    | MediaContent
    | TemplateContent
    | InteractiveContent
    | LocationContent
    | ContactContent
    | ReactionContent
    | StickerContent,
    Field(discriminator="type"),
]

CONTENT_TYPES = (
    "text",
    "media",
    "template",
    "interactive",
    "location",
    "contact",
    "reaction",
    "sticker",
)

# What other modules take from here, parts defined beside it included.
__all__ = [
    "BUTTON_TARGETS",
    "CONTENT_TYPES",
    "MAX_CAPTION",
    "MAX_TEXT",
    "Boolean",
    "Button",
    "Card",
    "ContactCard",
    "ContactContent",
    "Content",
    "Integer",
    "Interactive",
    "InteractiveContent",
    "ListRow",
    "ListSection",
    "Location",
    "LocationContent",
    "Media",
    "MediaContent",
    "MediaKind",
    "Number",
    "Reaction",
    "ReactionContent",
    "Sticker",
    "StickerContent",
    "Template",
    "TemplateButton",
    "TemplateContent",
    "TemplateHeader",
    "TextContent",
    "WebUrl",
    "json_integer",
    "media_kind_from_url",
]
