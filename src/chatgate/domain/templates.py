"""Stored message templates: a definition and its checks (rendering: ``template_render``).

A definition has typed variables, a body with ``{{var}}`` placeholders, and bindings that
say how each channel carries it: a WhatsApp template and the variables that fill its
components, a Kakao AlimTalk template code and its parameters, a Messenger/Instagram generic
template (a card), Telegram text with buttons. A channel without a binding gets the body as
plain text. Rendering yields the content a send carries (``chatgate.domain.content``);
nothing here knows about storage or a platform's wire format.

Variables are named (``order_id``) or positional (``"1"``, ``"2"``, … in order). Values are
strings, as in a template send; a list of values fills positional variables in order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatgate.domain.content import BUTTON_TARGETS, MAX_CAPTION, MAX_TEXT, Boolean, Integer
from chatgate.domain.schema_rules import with_rules

VariableType = Literal["text", "number", "currency", "date_time", "url"]

MAX_VARIABLES = 100
# The longest value a variable takes: a template send's own limit on each variable.
MAX_VALUE = MAX_CAPTION

# The same shapes a template send accepts, so that a stored template is sent by name too.
TemplateName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w.\-]+$")]
Language = Annotated[str, Field(min_length=2, max_length=15, pattern=r"^[A-Za-z_\-]+$")]
VariableName = Annotated[
    str,
    Field(
        pattern=r"^(?:[1-9][0-9]?|[A-Za-z_][A-Za-z0-9_]{0,63})$",
        description='a name (letters, digits, _) or a position ("1", "2", …)',
    ),
]
# A platform's name for one parameter of its template.
ParameterName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\s.]+$")]
# A string of a binding that may hold placeholders; its rendered form is checked as content.
Pattern = Annotated[str, Field(min_length=1, max_length=2000)]

# ``{{ name }}``: anything between double braces is a placeholder, so that a misspelt one
# is reported instead of being sent as it is.
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class TemplateError(ValueError):
    """A definition that does not hold together, or values that do not fit it.

    ``field`` is the path of the fault relative to the definition (``bindings.kakao``) or,
    for a value, relative to the values (``order_id``, or ``0`` for the first of a list);
    ``variable`` names the variable at fault, if one is.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid_request",
        field: str | None = None,
        variable: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.variable = variable


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=with_rules)


class Variable(_Strict):
    """One variable: its name, type, whether a value is required, and an example."""

    name: VariableName
    type: VariableType = "text"
    required: Boolean = True
    example: str | None = Field(default=None, max_length=MAX_VALUE)


class WhatsAppHeader(_Strict):
    """The variable that fills the WhatsApp template's header: text, or a media URL."""

    variable: VariableName
    format: Literal["text", "image", "video", "document"] = "text"


class WhatsAppButton(_Strict):
    """The variable that fills one WhatsApp button (quick-reply payload or URL suffix)."""

    index: Integer = Field(ge=0, le=9)
    sub_type: Literal["quick_reply", "url"] = "quick_reply"
    variable: VariableName


class WhatsAppBinding(_Strict):
    """A pre-approved WhatsApp template and the variables that fill its components."""

    name: str = Field(min_length=1, max_length=512, pattern=r"^[\w.\-]+$")
    language: Language | None = Field(default=None, description="the template's if absent")
    body: list[VariableName] | dict[ParameterName, VariableName] = Field(
        default_factory=list,
        max_length=MAX_VARIABLES,
        description="the body parameters in order (a list of variables), or by WhatsApp "
        "parameter name ({parameter: variable})",
    )
    header: WhatsAppHeader | None = None
    buttons: list[WhatsAppButton] = Field(default_factory=list, max_length=10)


class KakaoBinding(_Strict):
    """A Kakao AlimTalk template code and the variable behind each of its parameters."""

    template_code: str = Field(min_length=1, max_length=512, pattern=r"^[\w.\-]+$")
    parameters: dict[ParameterName, VariableName] = Field(
        default_factory=dict, max_length=MAX_VARIABLES, description="{kakao_parameter: variable}"
    )


class BindingButton(_Strict):
    """A button whose strings may hold placeholders: a reply, a link or a phone call."""

    schema_rules: ClassVar = [BUTTON_TARGETS]

    type: Literal["reply", "url", "call"] = "reply"
    title: Pattern
    id: Pattern | None = None
    url: Pattern | None = None
    phone: Pattern | None = None

    @model_validator(mode="after")
    def _target(self) -> BindingButton:
        needed = {"reply": "id", "url": "url", "call": "phone"}[self.type]
        if getattr(self, needed) is None:
            raise ValueError(f"{needed}: a {self.type} button needs {needed}")
        return self


class GenericBinding(_Strict):
    """A Messenger/Instagram generic template: one card; every string may hold placeholders."""

    title: Pattern
    subtitle: Pattern | None = None
    image_url: Pattern | None = None
    url: Pattern | None = Field(default=None, description="opened when the card is tapped")
    buttons: list[BindingButton] = Field(default_factory=list, max_length=3)


class TelegramBinding(_Strict):
    """Telegram: a text (the body when absent) and buttons under it."""

    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)] | None = None
    buttons: list[BindingButton] = Field(default_factory=list, max_length=13)


class Bindings(_Strict):
    """How each channel carries the template; a channel not named here gets the body as text."""

    whatsapp: WhatsAppBinding | None = None
    kakao: KakaoBinding | None = None
    messenger: GenericBinding | None = None
    instagram: GenericBinding | None = None
    telegram: TelegramBinding | None = None


class TemplateDefinition(_Strict):
    """A template as it is stored: what it is called, what it takes and how it renders."""

    name: TemplateName
    language: Language = "en"
    variables: list[Variable] = Field(default_factory=list, max_length=MAX_VARIABLES)
    body: str = Field(min_length=1, max_length=MAX_TEXT)
    bindings: Bindings = Field(default_factory=Bindings)


# -- checks ---------------------------------------------------------------------------


def placeholders(text: str) -> list[str]:
    """The names the placeholders of ``text`` refer to, in order, stripped of spaces."""
    return [match.group(1).strip() for match in PLACEHOLDER.finditer(text)]


def check_definition(definition: TemplateDefinition) -> None:
    """Raise :class:`TemplateError` naming the field at fault if the definition does not
    hold together: duplicate or misnumbered variables, a bad example, or a placeholder or
    binding that names no declared variable.

    Each fault has a code of its own (``undeclared_variable``, ``duplicate_variable``,
    ``variable_order``, ``invalid_example``, ``variable_mismatch``): these rules relate the
    definition's parts to each other, which no JSON Schema of the request can state."""
    declared = _check_variables(definition.variables)
    _check_text(definition.body, "body", declared)
    for field, name in _binding_references(definition.bindings):
        if name not in declared:
            raise TemplateError(
                f"names no declared variable: {name!r}", code="undeclared_variable", field=field
            )
    whatsapp = definition.bindings.whatsapp
    if whatsapp is not None:
        _check_whatsapp(whatsapp, declared)
    for field, text in _binding_texts(definition.bindings):
        _check_text(text, field, declared)


def _check_variables(variables: Sequence[Variable]) -> dict[str, Variable]:
    declared: dict[str, Variable] = {}
    positional = [v.name.isdigit() for v in variables]
    for index, variable in enumerate(variables):
        field = f"variables.{index}.name"
        if variable.name in declared:
            raise TemplateError(
                f"{variable.name!r} is declared twice", code="duplicate_variable", field=field
            )
        if positional[index] != positional[0]:
            raise TemplateError(
                "variables are either all named or all positional (1, 2, …)",
                code="variable_order",
                field=field,
            )
        if positional[index] and variable.name != str(index + 1):
            raise TemplateError(
                f"positional variables are numbered 1, 2, … in order: expected {index + 1}",
                code="variable_order",
                field=field,
            )
        if variable.example is not None:
            problem = type_problem(variable.type, variable.example)
            if problem:
                raise TemplateError(
                    problem, code="invalid_example", field=f"variables.{index}.example"
                )
        declared[variable.name] = variable
    return declared


def _check_text(text: str, field: str, declared: Mapping[str, Variable]) -> None:
    for name in placeholders(text):
        if name not in declared:
            raise TemplateError(
                f"the placeholder {{{{{name}}}}} names no declared variable",
                code="undeclared_variable",
                field=field,
            )


def _check_whatsapp(binding: WhatsAppBinding, declared: Mapping[str, Variable]) -> None:
    # WhatsApp refuses a template send with an empty parameter: every one needs a value.
    for field, name in _whatsapp_references(binding):
        if not declared[name].required:
            raise TemplateError(
                f"{name!r} is optional, but WhatsApp needs a value for every parameter",
                code="variable_mismatch",
                field=field,
            )
    header = binding.header
    if header is not None and header.format != "text" and declared[header.variable].type != "url":
        raise TemplateError(
            f"a {header.format} header takes a url variable",
            code="variable_mismatch",
            field="bindings.whatsapp.header",
        )


def _whatsapp_references(binding: WhatsAppBinding) -> Iterator[tuple[str, str]]:
    prefix = "bindings.whatsapp"
    body = binding.body
    pairs = body.items() if isinstance(body, dict) else enumerate(body)
    for key, name in pairs:
        yield f"{prefix}.body.{key}", name
    if binding.header is not None:
        yield f"{prefix}.header.variable", binding.header.variable
    for index, button in enumerate(binding.buttons):
        yield f"{prefix}.buttons.{index}.variable", button.variable


def _binding_references(bindings: Bindings) -> Iterator[tuple[str, str]]:
    """``(field, variable)`` for every binding that names a variable outright."""
    if bindings.whatsapp is not None:
        yield from _whatsapp_references(bindings.whatsapp)
    if bindings.kakao is not None:
        for parameter, name in bindings.kakao.parameters.items():
            yield f"bindings.kakao.parameters.{parameter}", name


def _binding_texts(bindings: Bindings) -> Iterator[tuple[str, str]]:
    """``(field, text)`` for every binding string that may hold placeholders."""
    for channel in ("messenger", "instagram"):
        card: GenericBinding | None = getattr(bindings, channel)
        if card is not None:
            yield from _strings(f"bindings.{channel}", card)
    if bindings.telegram is not None:
        yield from _strings("bindings.telegram", bindings.telegram)


def _strings(prefix: str, model: BaseModel) -> Iterator[tuple[str, str]]:
    for name, value in model:
        if isinstance(value, str):
            yield f"{prefix}.{name}", value
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from _strings(f"{prefix}.{name}.{index}", item)


# -- values ---------------------------------------------------------------------------


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# An amount with at most three decimals (the most any ISO 4217 currency has).
_CURRENCY = re.compile(r"-?\d+(?:\.\d{1,3})?")
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?"
)


def type_problem(kind: VariableType, value: str) -> str | None:
    """Why ``value`` is no ``kind``, or ``None`` when it is one."""
    if kind == "number" and not (_NUMBER.fullmatch(value) and math.isfinite(float(value))):
        return "must be a number, e.g. 42 or 3.5"
    if kind == "currency" and not _CURRENCY.fullmatch(value):
        return "must be an amount as a number string, e.g. 19.99"
    if kind == "date_time" and not _is_date_time(value):
        return "must be an ISO 8601 date or date-time, e.g. 2025-01-31T09:30:00Z"
    if kind == "url" and not _is_url(value):
        return "must be an http or https URL"
    return None


def _is_date_time(value: str) -> bool:
    if not _DATE_TIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper())  # the shape is right; is the date real?
    except ValueError:
        return False
    return True


def _is_url(value: str) -> bool:
    if any(char.isspace() or not char.isprintable() for char in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
