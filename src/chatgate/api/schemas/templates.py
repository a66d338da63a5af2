"""Bodies of ``/v1/templates``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from chatgate.api.schemas.common import ApiModel
from chatgate.domain.channels import ChannelType
from chatgate.domain.content import MAX_TEXT
from chatgate.domain.free_form import StorableObject, StorableValue
from chatgate.domain.templates import (
    MAX_VARIABLES,
    Bindings,
    Language,
    TemplateDefinition,
    TemplateName,
    Variable,
)
from chatgate.services.templates import TemplateChanges
from chatgate.storage.templates import StoredTemplate

_BODY = "the text, with {{variable}} placeholders; sent as text where a channel has no binding"
_BINDINGS = (
    "per channel: whatsapp {name, language, body, header, buttons}, kakao {template_code, "
    "parameters}, messenger/instagram {title, subtitle, image_url, url, buttons}, telegram "
    "{text, buttons}"
)
# Values as in a template send (strings); anything else is refused by the rendering, which
# names the variable rather than the union's branch.
Values = StorableObject | list[StorableValue]


class CreateTemplateRequest(ApiModel):
    """A new template."""

    name: TemplateName = Field(examples=["order_shipped"])
    language: Language = Field(default="en", examples=["en", "pt_BR"])
    variables: list[Variable] = Field(default_factory=list, max_length=MAX_VARIABLES)
    body: str = Field(min_length=1, max_length=MAX_TEXT, description=_BODY)
    bindings: Bindings = Field(default_factory=Bindings, description=_BINDINGS)

    def definition(self) -> TemplateDefinition:
        """The domain's definition (checked whole by the service)."""
        return TemplateDefinition(
            name=self.name,
            language=self.language,
            variables=self.variables,
            body=self.body,
            bindings=self.bindings,
        )


class UpdateTemplateRequest(ApiModel):
    """Changes to a template: only the fields given change; ``variables`` is replaced whole,
    and ``bindings`` changes only the channels it names (``null`` removes a binding)."""

    name: TemplateName | None = None
    language: Language | None = None
    variables: list[Variable] | None = Field(default=None, max_length=MAX_VARIABLES)
    body: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT, description=_BODY)
    bindings: Bindings | None = Field(default=None, description=_BINDINGS)

    def changes(self) -> TemplateChanges:
        """The service's view of the change."""
        bindings = self.bindings
        return TemplateChanges(
            name=self.name,
            language=self.language,
            variables=self.variables,
            body=self.body,
            bindings={}
            if bindings is None
            else {channel: getattr(bindings, channel) for channel in bindings.model_fields_set},
        )


class PreviewRequest(ApiModel):
    """A channel and the values to render the template with."""

    channel: ChannelType
    variables: Values = Field(
        default_factory=dict,
        max_length=100,
        description='named ({"name": value}) or positional ([v1, v2]), as in a template send',
    )


class TemplateOut(BaseModel):
    """A template as the API shows it."""

    id: str = Field(examples=["tpl_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    object: Literal["template"] = "template"
    name: str
    language: str
    variables: list[dict[str, Any]]
    body: str
    bindings: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, template: StoredTemplate) -> TemplateOut:
        """The API's view of a stored template."""
        definition = template.definition.model_dump(mode="json", exclude_none=True)
        return cls(
            id=template.id,
            name=definition["name"],
            language=definition["language"],
            variables=definition["variables"],
            body=definition["body"],
            bindings=definition["bindings"],
            created_at=template.created_at,
            updated_at=template.updated_at,
        )


class TemplateList(BaseModel):
    """A page of the account's templates, newest first."""

    object: Literal["list"] = "list"
    data: list[TemplateOut]
    has_more: bool
    next_cursor: str | None = Field(description="pass as `cursor` to get older templates")


class PreviewOut(BaseModel):
    """What the template renders to on a channel: the content a send would store."""

    object: Literal["template_preview"] = "template_preview"
    template_id: str
    channel: ChannelType
    content: dict[str, Any]
