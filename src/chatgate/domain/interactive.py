"""Interactive content: buttons, quick replies, lists, cards, and WhatsApp's commerce
messages (see :mod:`chatgate.domain.commerce`), each kind with its own fields."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from annotated_types import Ge, Le
from pydantic import BeforeValidator, Field, Strict, model_validator
from pydantic_core import PydanticCustomError

from chatgate.domain.commerce import MAX_PRODUCTS, AddressForm, CatalogId, ProductId
from chatgate.domain.content_base import MAX_TEXT, StrictModel, WebUrl, json_integer
from chatgate.domain.schema_rules import branch

_Strict = StrictModel

# The target each button type needs (checked by ``Button._target``).
BUTTON_TARGETS = [
    branch(["id"], type={"const": "reply"}, id={"type": "string"}),
    branch(["type", "url"], type={"const": "url"}, url={"type": "string"}),
    branch(["type", "phone"], type={"const": "call"}, phone={"type": "string"}),
]


class Button(_Strict):
    """One button: a reply with an ``id``, a link, or a phone call."""

    schema_rules: ClassVar = [BUTTON_TARGETS]

    type: Literal["reply", "url", "call"] = "reply"
    title: str = Field(min_length=1, max_length=40)
    id: str | None = Field(default=None, min_length=1, max_length=256)
    url: WebUrl | None = None
    phone: str | None = Field(default=None, min_length=3, max_length=32)
    # The bounds before the JSON-integer reading, where the schema states them as bounds.
    row: Annotated[int, Strict(), Ge(0), Le(12), BeforeValidator(json_integer)] | None = Field(
        default=None,
        description="where a platform lays buttons out in rows (Telegram's inline keyboard): "
        "buttons of one row number sit side by side, rows in the order of their first "
        "button; a button without one has a row of its own. Other platforms ignore it",
    )

    @model_validator(mode="after")
    def _target(self) -> Button:
        needed = {"reply": "id", "url": "url", "call": "phone"}[self.type]
        if getattr(self, needed) is None:
            raise ValueError(f"a {self.type} button needs {needed}")
        return self


class ListRow(_Strict):
    """One choice in a list section."""

    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=24)
    description: str | None = Field(default=None, max_length=72)


class ListSection(_Strict):
    """A titled group: the rows of a list, or the items of a product list."""

    schema_rules: ClassVar = [
        [
            branch(["rows"], rows={"type": "array"}, product_ids={"type": "null"}),
            branch(["product_ids"], product_ids={"type": "array"}, rows={"type": "null"}),
        ]
    ]

    title: str | None = Field(default=None, max_length=24)
    rows: list[ListRow] | None = Field(default=None, min_length=1, max_length=10)
    product_ids: list[ProductId] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_PRODUCTS,
        description="a product list's items: their ids in the catalog (retailer ids)",
    )

    @model_validator(mode="after")
    def _one_of(self) -> ListSection:
        if (self.rows is None) == (self.product_ids is None):
            raise ValueError("rows: a section holds rows (a list) or product_ids (a product list)")
        return self


class Card(_Strict):
    """One card of a carousel: a title, an optional picture and link, and buttons."""

    title: str = Field(min_length=1, max_length=80)
    subtitle: str | None = Field(default=None, max_length=80)
    image_url: WebUrl | None = None
    url: WebUrl | None = Field(default=None, description="opened when the card is tapped")
    buttons: list[Button] = Field(default_factory=list, max_length=3)


# The fields only some kinds have: each kind's own, the others' absent (or null).
_KIND_FIELDS = {"product": ("catalog_id", "product_id"), "product_list": ("catalog_id",)}
_KIND_FIELDS["address"] = ("address",)
_OPTIONAL_FIELDS = ("catalog_id", "product_id", "address")
# The list each kind's choices are in; a product and an address form have none.
_KIND_LISTS = {
    "buttons": "buttons",
    "quick_replies": "buttons",
    "list": "sections",
    "cards": "cards",
    "product_list": "sections",
}


def _interactive_shape(
    kind: str, own: str | None, *, required: tuple[str, ...] = ("body",), **more: Any
) -> dict[str, Any]:
    """The branch of an interactive message of ``kind``: its own list (of at least one
    item, each fitting ``items`` if given) and no other, its own fields and no other kind's,
    and ``required`` (a list needs its button's text)."""
    lists: dict[str, Any] = {
        name: {"maxItems": 0} for name in ("buttons", "sections", "cards") if name != own
    }
    if own is not None:
        items = {"items": more.pop("items")} if "items" in more else {}
        lists[own] = {"minItems": 1, **items}
    kind_fields = _KIND_FIELDS.get(kind, ())
    # Given, and not null: the fields are nullable where the kind does not need them.
    present: dict[str, Any] = {name: {"not": {"type": "null"}} for name in kind_fields}
    present.update({name: {"type": "string"} for name in required})
    absent = {name: {"type": "null"} for name in _OPTIONAL_FIELDS if name not in kind_fields}
    needed = [*([own] if own else []), *kind_fields, *required, *more]
    return branch(needed, kind={"const": kind}, **lists, **present, **absent, **more)


_ROWS_ONLY = {"required": ["rows"], "properties": {"product_ids": {"type": "null"}}}
_PRODUCTS_ONLY = {"required": ["product_ids"], "properties": {"rows": {"type": "null"}}}


class Interactive(_Strict):
    """Choices under a body text, or one of WhatsApp's commerce messages.

    - ``buttons``: buttons on the message (reply, link or call buttons);
    - ``quick_replies``: reply choices offered above the keyboard (reply buttons only);
    - ``list``: a menu of sections and rows opened by ``button_text``;
    - ``cards``: a carousel of cards, each with its own buttons;
    - ``product``, ``product_list``, ``address``: a catalog's item, items of a catalog in
      sections, WhatsApp's address form (see :mod:`chatgate.domain.commerce`).
    """

    # What ``_shape`` checks: each kind has its own list and fields, and only those.
    schema_rules: ClassVar = [
        [
            _interactive_shape("buttons", "buttons"),
            _interactive_shape(
                "quick_replies", "buttons", items={"properties": {"type": {"const": "reply"}}}
            ),
            _interactive_shape(
                "list", "sections", items=_ROWS_ONLY, button_text={"type": "string"}
            ),
            _interactive_shape("cards", "cards"),
            _interactive_shape("product", None, required=(), header={"type": "null"}),
            _interactive_shape(
                "product_list",
                "sections",
                required=("header", "body"),
                items=_PRODUCTS_ONLY,
            ),
            _interactive_shape("address", None),
        ]
    ]

    kind: Literal["buttons", "quick_replies", "list", "cards", "product", "product_list", "address"]
    body: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TEXT,
        description="required, except in a product message",
    )
    header: str | None = Field(default=None, max_length=60)
    footer: str | None = Field(default=None, max_length=60)
    buttons: list[Button] = Field(default_factory=list, max_length=13)
    button_text: str | None = Field(default=None, min_length=1, max_length=20)
    sections: list[ListSection] = Field(default_factory=list, max_length=10)
    cards: list[Card] = Field(default_factory=list, max_length=10)
    catalog_id: CatalogId | None = Field(
        default=None, description="a product or product list's catalog"
    )
    product_id: ProductId | None = Field(
        default=None, description="a product message's item: its id in the catalog"
    )
    address: AddressForm | None = Field(default=None, description="an address message's form")

    @model_validator(mode="after")
    def _shape(self) -> Interactive:
        needed = _KIND_LISTS.get(self.kind)
        for name in ("buttons", "sections", "cards"):
            given = bool(getattr(self, name))
            if name == needed and not given:
                raise ValueError(f"{name}: a {self.kind} message needs at least one")
            if name != needed and given:
                has = needed or "no list"
                raise ValueError(f"{name}: a {self.kind} message has {has}, not {name}")
        own = _KIND_FIELDS.get(self.kind, ())
        for name in _OPTIONAL_FIELDS:
            given = getattr(self, name) is not None
            if name in own and not given:
                raise ValueError(f"{name}: is required in a {self.kind} message")
            if name not in own and given:
                raise ValueError(f"{name}: a {self.kind} message has no {name}")
        if self.body is None and self.kind != "product":
            raise ValueError("body: is required")
        if self.kind == "list" and self.button_text is None:
            raise ValueError("button_text: a list message needs the text of its button")
        if self.kind == "quick_replies" and any(b.type != "reply" for b in self.buttons):
            raise ValueError("buttons: quick replies are reply buttons only")
        if self.kind in ("list", "product_list"):
            self._sections_fit()
        if self.kind == "product" and self.header is not None:
            raise ValueError("header: a product message shows the product's own; it has none")
        if self.kind == "product_list" and self.header is None:
            raise ValueError("header: is required in a product_list message")
        return self

    def _sections_fit(self) -> None:
        products = self.kind == "product_list"
        holds = "product_ids" if products else "rows"
        if any((s.product_ids if products else s.rows) is None for s in self.sections):
            raise ValueError(f"sections: a {self.kind} message's sections hold {holds}")
        if not products:
            return
        # Public codes of their own (api.errors.SEMANTIC_CODES): the document states each
        # section on its own, so neither a count across sections nor a title required only
        # beside other sections is in it.
        if sum(len(s.product_ids or ()) for s in self.sections) > MAX_PRODUCTS:
            raise PydanticCustomError(
                "too_many_products",
                f"sections: a product list holds at most {MAX_PRODUCTS} products in all",
            )
        if len(self.sections) > 1 and not all(s.title for s in self.sections):
            raise PydanticCustomError(
                "section_title_required", "sections: each needs a title when there is more than one"
            )
