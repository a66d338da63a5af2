"""Rendering a stored template for a channel: values checked against their variables'
types, placeholders filled, and the content each channel's binding makes of it.

A missing, unknown or ill-typed value is a :class:`TemplateError` naming the variable; the
rendered content is checked as a send's content would be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from chatgate.domain.content import Content
from chatgate.domain.templates import (
    MAX_VALUE,
    PLACEHOLDER,
    BindingButton,
    GenericBinding,
    KakaoBinding,
    TelegramBinding,
    TemplateDefinition,
    TemplateError,
    Variable,
    WhatsAppBinding,
    type_problem,
)


def fill_values(
    definition: TemplateDefinition, values: Mapping[str, Any] | Sequence[Any]
) -> dict[str, str]:
    """Every declared variable's value (``""`` for an optional one not given), checked.

    Raises :class:`TemplateError` (code ``unknown_variable``, ``missing_variable`` or
    ``invalid_variable``) naming the variable; its ``field`` is the value's key in
    ``values`` (a list's index for a list).
    """
    declared = {variable.name: variable for variable in definition.variables}
    if isinstance(values, Mapping):
        given = dict(values)
        where = {name: name for name in [*given, *declared]}
    else:
        # A list fills positional variables: its first item is variable "1".
        given = {str(index + 1): value for index, value in enumerate(values)}
        where = {name: str(int(name) - 1) if name.isdigit() else name for name in declared}
        where.update({name: str(int(name) - 1) for name in given})
    for name in given:
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise TemplateError(
                f"unknown variable {name!r}; the template declares: {known}",
                code="unknown_variable",
                field=where[name],
                variable=name,
            )
    filled: dict[str, str] = {}
    for name, variable in declared.items():
        value = given.get(name)
        if value is None:
            if variable.required:
                raise TemplateError(
                    f"the variable {name!r} is required",
                    code="missing_variable",
                    field=where[name],
                    variable=name,
                )
            filled[name] = ""
            continue
        problem = _value_problem(variable, value)
        if problem:
            raise TemplateError(
                f"the variable {name!r} {problem}",
                code="invalid_variable",
                field=where[name],
                variable=name,
            )
        filled[name] = value
    return filled


def _value_problem(variable: Variable, value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if len(value) > MAX_VALUE:
        return f"must be at most {MAX_VALUE} characters"
    return type_problem(variable.type, value)


# -- rendering ------------------------------------------------------------------------

_CONTENT: TypeAdapter[Any] = TypeAdapter(Content)


def render(
    definition: TemplateDefinition, channel: str, values: Mapping[str, Any] | Sequence[Any]
) -> dict[str, Any]:
    """The content that carries ``definition`` with ``values`` on ``channel``.

    Raises :class:`TemplateError` naming the variable for a missing, unknown or ill-typed
    value, and (code ``template_not_renderable``) when the values make content the channel
    model refuses (a title too long, say).
    """
    filled = fill_values(definition, values)
    bindings = definition.bindings
    content: dict[str, Any]
    if channel == "whatsapp" and bindings.whatsapp is not None:
        content = _whatsapp(bindings.whatsapp, definition.language, filled)
    elif channel == "kakao" and bindings.kakao is not None:
        content = _kakao(bindings.kakao, definition.language, filled)
    elif channel in ("messenger", "instagram") and getattr(bindings, channel) is not None:
        content = _card(getattr(bindings, channel), _fill(definition.body, filled), filled)
    elif channel == "telegram" and bindings.telegram is not None:
        content = _telegram(bindings.telegram, definition.body, filled)
    else:
        content = {"type": "text", "text": _fill(definition.body, filled)}
    return _checked(content, channel)


def _fill(text: str, filled: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda match: filled[match.group(1).strip()], text)


def _whatsapp(binding: WhatsAppBinding, language: str, filled: Mapping[str, str]) -> dict[str, Any]:
    body = binding.body
    template: dict[str, Any] = {
        "name": binding.name,
        "language": binding.language or language,
        "variables": {key: filled[name] for key, name in body.items()}
        if isinstance(body, dict)
        else [filled[name] for name in body],
        "buttons": [
            {"index": b.index, "sub_type": b.sub_type, "value": filled[b.variable]}
            for b in binding.buttons
        ],
    }
    header = binding.header
    if header is not None:
        value = filled[header.variable]
        template["header"] = (
            {"text": value}
            if header.format == "text"
            else {"media": {"url": value, "kind": header.format}}
        )
    return {"type": "template", "template": template}


def _kakao(binding: KakaoBinding, language: str, filled: Mapping[str, str]) -> dict[str, Any]:
    variables = {parameter: filled[name] for parameter, name in binding.parameters.items()}
    return {
        "type": "template",
        "template": {"name": binding.template_code, "language": language, "variables": variables},
    }


def _button(button: BindingButton, filled: Mapping[str, str]) -> dict[str, Any]:
    return {
        key: _fill(value, filled) if isinstance(value, str) else value
        for key, value in button.model_dump(exclude_none=True).items()
    }


def _optional(text: str | None, filled: Mapping[str, str]) -> str | None:
    # An optional part left empty by an optional variable is left out, not sent empty.
    rendered = None if text is None else _fill(text, filled)
    return rendered or None


def _card(binding: GenericBinding, body: str, filled: Mapping[str, str]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "title": _fill(binding.title, filled),
        "subtitle": _optional(binding.subtitle, filled),
        "image_url": _optional(binding.image_url, filled),
        "url": _optional(binding.url, filled),
        "buttons": [_button(button, filled) for button in binding.buttons],
    }
    # A card carousel's body is not shown by Messenger or Instagram, but the content
    # model needs one: the rendered body is what other readers of the message see.
    return {"type": "interactive", "interactive": {"kind": "cards", "body": body, "cards": [card]}}


def _telegram(binding: TelegramBinding, body: str, filled: Mapping[str, str]) -> dict[str, Any]:
    text = _fill(binding.text if binding.text is not None else body, filled)
    if not binding.buttons:
        return {"type": "text", "text": text}
    buttons = [_button(button, filled) for button in binding.buttons]
    return {
        "type": "interactive",
        "interactive": {"kind": "buttons", "body": text, "buttons": buttons},
    }


def _checked(content: dict[str, Any], channel: str) -> dict[str, Any]:
    """``content`` validated as a send's content and in the form a send stores."""
    try:
        model = _CONTENT.validate_python(content)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"][1:])  # past the union's tag
        message = str(error["msg"]).removeprefix("Value error, ")
        raise TemplateError(
            f"rendered for {channel}, {where or 'the content'} is not valid: {message}",
            code="template_not_renderable",
        ) from None
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return dumped
