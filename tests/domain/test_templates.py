"""Stored templates: a definition's checks, value checks, and rendering for each channel."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from chatgate.domain.content import Content
from chatgate.domain.template_render import render
from chatgate.domain.templates import (
    TemplateDefinition,
    TemplateError,
    check_definition,
    placeholders,
)

CONTENT: TypeAdapter[Any] = TypeAdapter(Content)

VALUES = {
    "customer": "Ana",
    "order": "1234",
    "total": "19.99",
    "link": "https://track.example.com/1234",
}


def definition(**changes: Any) -> TemplateDefinition:
    """An order-shipped template bound for every channel kind, with ``changes`` applied."""
    values: dict[str, Any] = {
        "name": "order_shipped",
        "language": "en",
        "variables": [
            {"name": "customer", "example": "Ana"},
            {"name": "order"},
            {"name": "total", "type": "currency", "example": "19.99"},
            {"name": "link", "type": "url"},
            {"name": "eta", "type": "date_time", "required": False},
        ],
        "body": "Hi {{customer}}, order {{ order }} ({{total}}) has shipped. {{eta}}",
        "bindings": {
            "whatsapp": {
                "name": "order_shipped_v2",
                "language": "en_US",
                "body": ["customer", "order", "total"],
                "header": {"variable": "order"},
                "buttons": [{"index": 0, "sub_type": "url", "variable": "order"}],
            },
            "kakao": {"template_code": "ORDER_SHIPPED_01", "parameters": {"name": "customer"}},
            "messenger": {
                "title": "Order {{order}}",
                "subtitle": "{{eta}}",
                "image_url": "https://cdn.example.com/box.png",
                "buttons": [{"type": "url", "title": "Track", "url": "{{link}}"}],
            },
            "telegram": {
                "text": "Order {{order}} is on its way, {{customer}}",
                "buttons": [{"type": "url", "title": "Track", "url": "{{link}}"}],
            },
        },
    }
    values.update(changes)
    return TemplateDefinition.model_validate(values)


def test_placeholders_are_read_with_spaces_stripped() -> None:
    assert placeholders("{{a}} and {{ b }} and {{}}") == ["a", "b", ""]


def test_a_whole_definition_holds_together() -> None:
    check_definition(definition())  # raises if not


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"body": "Hi {{nobody}}"}, "body"),
        ({"body": "Hi {{}}"}, "body"),
        (
            {"variables": [{"name": "n", "type": "number", "example": "many"}], "bindings": {}},
            "variables.0.example",
        ),
    ],
)
def test_a_bad_body_or_example_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(TemplateError) as caught:
        check_definition(definition(**changes))
    assert caught.value.field == field
    assert caught.value.message


@pytest.mark.parametrize(
    ("bindings", "field"),
    [
        ({"whatsapp": {"name": "t", "body": ["ghost"]}}, "bindings.whatsapp.body.0"),
        ({"whatsapp": {"name": "t", "body": {"p": "ghost"}}}, "bindings.whatsapp.body.p"),
        (
            {"whatsapp": {"name": "t", "header": {"variable": "ghost"}}},
            "bindings.whatsapp.header.variable",
        ),
        (
            {"whatsapp": {"name": "t", "buttons": [{"index": 0, "variable": "ghost"}]}},
            "bindings.whatsapp.buttons.0.variable",
        ),
        (
            {"kakao": {"template_code": "T1", "parameters": {"p": "ghost"}}},
            "bindings.kakao.parameters.p",
        ),
        ({"messenger": {"title": "{{ghost}}"}}, "bindings.messenger.title"),
        (
            {"instagram": {"title": "t", "buttons": [{"title": "x", "id": "{{ghost}}"}]}},
            "bindings.instagram.buttons.0.id",
        ),
        ({"telegram": {"text": "{{ghost}}"}}, "bindings.telegram.text"),
        # WhatsApp needs a value for every parameter, so an optional variable cannot fill one.
        ({"whatsapp": {"name": "t", "body": ["eta"]}}, "bindings.whatsapp.body.0"),
        (
            {"whatsapp": {"name": "t", "header": {"variable": "order", "format": "image"}}},
            "bindings.whatsapp.header",
        ),
    ],
)
def test_bindings_naming_undeclared_variables_are_refused(
    bindings: dict[str, Any], field: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        check_definition(definition(bindings=bindings))
    assert caught.value.field == field


def test_duplicate_and_mixed_variables_point_at_the_second() -> None:
    with pytest.raises(TemplateError) as twice:
        check_definition(
            definition(variables=[{"name": "a"}, {"name": "a"}], body="{{a}}", bindings={})
        )
    assert twice.value.field == "variables.1.name"
    with pytest.raises(TemplateError) as mixed:
        check_definition(
            definition(variables=[{"name": "1"}, {"name": "b"}], body="{{1}}", bindings={})
        )
    assert mixed.value.field == "variables.1.name"
    with pytest.raises(TemplateError) as misnumbered:
        check_definition(definition(variables=[{"name": "2"}], body="{{2}}", bindings={}))
    assert misnumbered.value.field == "variables.0.name"


def test_a_binding_of_an_unknown_channel_is_refused_by_the_model() -> None:
    with pytest.raises(ValidationError, match="line"):
        definition(bindings={"line": {"text": "hi"}})


def test_whatsapp_renders_the_platform_template_with_its_components() -> None:
    content = render(definition(), "whatsapp", VALUES)
    assert content == {
        "type": "template",
        "template": {
            "name": "order_shipped_v2",
            "language": "en_US",
            "variables": ["Ana", "1234", "19.99"],
            "header": {"text": "1234"},
            "buttons": [{"index": 0, "sub_type": "url", "value": "1234"}],
        },
    }


def test_whatsapp_named_parameters_and_the_templates_own_language() -> None:
    bindings = {"whatsapp": {"name": "t", "body": {"customer_name": "customer"}}}
    content = render(definition(bindings=bindings), "whatsapp", VALUES)
    assert content["template"]["variables"] == {"customer_name": "Ana"}
    assert content["template"]["language"] == "en"


def test_kakao_renders_the_alimtalk_code_with_named_parameters() -> None:
    content = render(definition(), "kakao", VALUES)
    assert content["type"] == "template"
    assert content["template"]["name"] == "ORDER_SHIPPED_01"
    assert content["template"]["variables"] == {"name": "Ana"}


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
def test_messenger_and_instagram_render_a_generic_template_card(channel: str) -> None:
    card_binding = definition().bindings.messenger
    assert card_binding is not None
    bindings = {channel: card_binding.model_dump(exclude_none=True)}
    content = render(definition(bindings=bindings), channel, VALUES)
    interactive = content["interactive"]
    assert content["type"] == "interactive"
    assert interactive["kind"] == "cards"
    # The optional subtitle filled by an absent optional variable is left out.
    assert interactive["cards"] == [
        {
            "title": "Order 1234",
            "image_url": "https://cdn.example.com/box.png",
            "buttons": [{"type": "url", "title": "Track", "url": "https://track.example.com/1234"}],
        }
    ]
    assert interactive["body"].startswith("Hi Ana, order 1234")


def test_telegram_renders_text_with_buttons_or_plain_text() -> None:
    content = render(definition(), "telegram", VALUES)
    assert content["interactive"]["kind"] == "buttons"
    assert content["interactive"]["body"] == "Order 1234 is on its way, Ana"
    assert content["interactive"]["buttons"][0]["url"] == "https://track.example.com/1234"
    plain = render(definition(bindings={"telegram": {}}), "telegram", VALUES)
    assert plain == {
        "type": "text",
        "text": "Hi Ana, order 1234 (19.99) has shipped. ",
        "preview_url": False,
    }


@pytest.mark.parametrize("channel", ["sms", "line", "viber", "whatsapp_web"])
def test_other_channels_get_the_body_as_text(channel: str) -> None:
    content = render(definition(), channel, {**VALUES, "eta": "2025-01-31T09:30:00Z"})
    assert content["type"] == "text"
    assert content["text"] == "Hi Ana, order 1234 (19.99) has shipped. 2025-01-31T09:30:00Z"


def test_a_channel_without_a_binding_gets_text_too() -> None:
    content = render(definition(bindings={}), "whatsapp", VALUES)
    assert content["type"] == "text"


@pytest.mark.parametrize("channel", ["whatsapp", "kakao", "messenger", "telegram", "sms"])
def test_every_rendering_is_valid_content(channel: str) -> None:
    content = render(definition(), channel, VALUES)
    assert CONTENT.validate_python(content).type == content["type"]


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({**VALUES, "coupon": "X1"}, "unknown_variable", "coupon"),
        ({k: v for k, v in VALUES.items() if k != "order"}, "missing_variable", "order"),
        ({**VALUES, "total": "12,50"}, "invalid_variable", "total"),
        ({**VALUES, "total": "ten"}, "invalid_variable", "total"),
        ({**VALUES, "link": "ftp://files.example.com"}, "invalid_variable", "link"),
        ({**VALUES, "link": "track me"}, "invalid_variable", "link"),
        ({**VALUES, "eta": "tomorrow"}, "invalid_variable", "eta"),
        ({**VALUES, "eta": "2025-02-30"}, "invalid_variable", "eta"),
        ({**VALUES, "customer": "x" * 1025}, "invalid_variable", "customer"),
    ],
)
def test_value_errors_name_the_variable(values: dict[str, str], code: str, field: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render(definition(), "sms", values)
    assert caught.value.code == code
    assert caught.value.field == field
    assert caught.value.variable == field
    assert repr(field) in caught.value.message


def test_numbers_take_signs_decimals_and_exponents_but_not_words() -> None:
    numeric = definition(variables=[{"name": "n", "type": "number"}], body="{{n}}", bindings={})
    for good in ("42", "-3.5", "+0.25", "1e3"):
        assert render(numeric, "sms", {"n": good})["text"] == good
    for bad in ("4 2", "1e999", "nan", ""):
        with pytest.raises(TemplateError):
            render(numeric, "sms", {"n": bad})


def test_positional_values_fill_positional_variables_and_errors_name_the_index() -> None:
    positional = definition(
        variables=[{"name": "1"}, {"name": "2", "type": "number"}],
        body="Order {{1}}: {{2}} items",
        bindings={},
    )
    assert render(positional, "sms", ["A7", "3"])["text"] == "Order A7: 3 items"
    with pytest.raises(TemplateError) as missing:
        render(positional, "sms", ["A7"])
    assert (missing.value.code, missing.value.field) == ("missing_variable", "1")
    with pytest.raises(TemplateError) as extra:
        render(positional, "sms", ["A7", "3", "x"])
    assert (extra.value.code, extra.value.field) == ("unknown_variable", "2")
    with pytest.raises(TemplateError) as typed:
        render(positional, "sms", ["A7", "three"])
    assert (typed.value.code, typed.value.field, typed.value.variable) == (
        "invalid_variable",
        "1",
        "2",
    )


def test_values_that_make_invalid_content_are_refused_clearly() -> None:
    long_title = {**VALUES, "order": "9" * 100}
    with pytest.raises(TemplateError) as caught:
        render(definition(), "messenger", long_title)
    assert caught.value.code == "template_not_renderable"
    assert "cards.0.title" in caught.value.message
