"""MessageHub's bodies as the native API's: the same request models, the same commands.

A send body becomes the body ``POST /v1/messages`` would take (checked by the same model,
so every rule of addresses, content and fallback is the native one) and then the same
:class:`SendCommand`. Refusals keep the native code and name MessageHub's field.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chatgate.api.errors import describe_validation_error
from chatgate.api.routes.messages import command_of
from chatgate.api.schemas.messages import SendMessageRequest
from chatgate.compat.messagehub.errors import vendor_field
from chatgate.compat.messagehub.requests import (
    DEFAULT_TIMEOUT,
    Channel,
    ContentFields,
    ContentType,
    FallbackIn,
    FallbackStepIn,
    SendRequest,
)
from chatgate.domain.content import Content
from chatgate.errors import InvalidRequest
from chatgate.services.send_command import SendCommand

Model = TypeVar("Model", bound=BaseModel)
# Kakao's free-form message: a brand message (advertising), which the request must name.
BRAND_OPTIONS: dict[str, Any] = {"kakao": {"type": "brand"}}


def refusal(exc: ValidationError, prefix: str = "") -> InvalidRequest:
    """The first error of ``exc`` as a 400 naming MessageHub's field (under ``prefix``)."""
    code, field, message = describe_validation_error(dict(exc.errors()[0]))
    named = vendor_field(field if field != "body" else None)
    where = ".".join(part for part in (prefix, named or "") if part) or "body"
    return InvalidRequest(message, code=code, field=where)


def parse(model: type[Model], raw: object, prefix: str = "") -> Model:
    """``raw`` as ``model``, or the refusal of its first error under ``prefix``."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise refusal(exc, prefix) from None


def native_content(body: ContentFields, stored_template: str | None) -> dict[str, Any]:
    """The native content of a send or distribution (``stored_template``: the id of the
    account's stored template named by ``templateId``, if there is exactly one)."""
    if body.contentType is ContentType.TEMPLATE:
        variables = {name: str(value) for name, value in (body.templateParams or {}).items()}
        named = {"id": stored_template} if stored_template else {"name": body.templateId}
        return {"type": "template", "template": {**named, "variables": variables}}
    if body.mediaUrl is not None:
        media = {"url": body.mediaUrl}
        if body.content is not None:
            media["caption"] = body.content
        return {"type": "media", "media": media}
    return {"type": "text", "text": body.content}


class _NativeContent(BaseModel):
    content: Content


def checked_content(content: dict[str, Any]) -> dict[str, Any]:
    """``content`` as the native content model keeps it, or the refusal of its fault."""
    checked = parse(_NativeContent, {"content": content}).content
    return checked.model_dump(mode="json", exclude_none=True)


def brand_refusal(channel: Channel, field: str = "contentType") -> InvalidRequest | None:
    """A brand message is Kakao's: the refusal of one on another channel, or ``None``."""
    if channel is Channel.KAKAO:
        return None
    return InvalidRequest(
        f"a brandmessage is sent on kakao only, not on {channel.value}",
        code="unsupported_content",
        field=field,
    )


def options_of(body: ContentFields) -> dict[str, Any] | None:
    """The native options: a Kakao brand message says so."""
    return dict(BRAND_OPTIONS) if body.contentType is ContentType.BRANDMESSAGE else None


def _trigger(on: str, timeout: int | None) -> Any:
    if on == "failed":
        return "failed"
    return {"not": "delivered", "within": f"{timeout or DEFAULT_TIMEOUT}s"}


def native_fallback(fallback: FallbackIn | list[FallbackStepIn] | None) -> list[dict[str, Any]]:
    """MessageHub's fallback (either form) as native fallback steps."""
    if fallback is None:
        return []
    if isinstance(fallback, FallbackIn):
        trigger = _trigger(fallback.on, fallback.timeout)
        return [{"channel": channel.value, "on": trigger} for channel in fallback.channels]
    return [
        {
            "channel": step.channel.value,
            **({"to": step.to} if step.to is not None else {}),
            "on": _trigger(step.on, step.timeout),
        }
        for step in fallback
    ]


def _fallback_field(field: str, fallback: object) -> str:
    """``fallback.N…`` of the native steps, as the request wrote them: a step of the list,
    or the Nth of ``fallback.channels``."""
    parts = field.split(".")
    if isinstance(fallback, FallbackIn) and len(parts) > 1 and parts[1].isdigit():
        return f"fallback.channels.{parts[1]}"
    return field


def send_command(body: SendRequest, stored_template: str | None = None) -> SendCommand:
    """The command ``POST /v1/messages`` would build for this MessageHub send."""
    if body.contentType is ContentType.BRANDMESSAGE:
        refused = brand_refusal(body.channel)
        if refused is not None:
            raise refused
    native: dict[str, Any] = {
        "channel": body.channel.value,
        "to": body.to,
        "content": native_content(body, stored_template),
        "fallback": native_fallback(body.fallback),
    }
    options = options_of(body)
    if options is not None:
        native["options"] = options
    try:
        request = SendMessageRequest.model_validate(native)
    except ValidationError as exc:
        error = refusal(exc)
        if error.field and error.field.startswith("fallback."):
            error = InvalidRequest(
                error.message, code=error.code, field=_fallback_field(error.field, body.fallback)
            )
        raise error from None
    return command_of(request)
