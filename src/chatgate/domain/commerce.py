"""WhatsApp's commerce messages as parts of an interactive content.

Three kinds of :class:`~chatgate.domain.content.Interactive` carry them:

- ``product``: one item of a catalog (``catalog_id``, ``product_id``), an optional body and
  footer, and no header (WhatsApp shows the product's own picture and name there);
- ``product_list``: items of one catalog in up to 10 titled ``sections`` of
  ``product_ids``, at most 30 items in all, under a header and a body;
- ``address``: WhatsApp's address form (``address``: the ``country`` whose form it is, and
  ``values`` to prefill), under a body.

The limits are WhatsApp's own (its Cloud API refuses more), so a message is refused when it
is accepted rather than failed when it is sent. Nothing here names a platform's wire shape.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from chatgate.domain.content_base import StrictModel
from chatgate.domain.schema_rules import NO_NUL, branch

# WhatsApp's product-list limit: items across every section.
MAX_PRODUCTS = 30
# A catalog's id, and an item's id in it (its retailer id, "Content ID" in Commerce Manager).
CatalogId = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
ProductId = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]

# The fields of WhatsApp's address form, with the labels it shows (what a prefilled value
# reads as when the form is written out as text).
ADDRESS_LABELS: dict[str, str] = {
    "name": "Name",
    "phone_number": "Phone Number",
    "in_pin_code": "Pin Code",
    "sg_post_code": "Post Code",
    "house_number": "Flat/House Number",
    "floor_number": "Floor Number",
    "tower_number": "Tower Number",
    "building_name": "Building/Apartment Name",
    "address": "Address",
    "landmark_area": "Landmark/Area",
    "unit_number": "Unit Number",
    "city": "City",
    "state": "State",
}
# The countries WhatsApp has an address form for, and the postal-code field of each.
ADDRESS_COUNTRIES = ("IN", "SG")
POSTAL_CODE_FIELD = {"IN": "in_pin_code", "SG": "sg_post_code"}

Value = Annotated[str | None, Field(default=None, min_length=1, max_length=256)]
PostalCode = Annotated[
    str | None, Field(default=None, min_length=1, max_length=6, pattern=r"^[0-9]+$")
]


_Strict = StrictModel


class AddressValues(_Strict):
    """Values the form opens with; the user can change each."""

    name: Value = None
    phone_number: Annotated[
        str | None, Field(default=None, min_length=3, max_length=32, pattern=r"^\+?[0-9 ()-]+$")
    ] = None
    in_pin_code: PostalCode = None
    sg_post_code: PostalCode = None
    house_number: Value = None
    floor_number: Value = None
    tower_number: Value = None
    building_name: Value = None
    address: Value = None
    landmark_area: Value = None
    unit_number: Value = None
    city: Value = None
    state: Value = None


class AddressForm(_Strict):
    """WhatsApp's address form: the country whose form it is, and values to prefill."""

    # A form has the postal-code field of its own country only.
    schema_rules: ClassVar = [
        [
            branch(
                ["country"],
                country={"const": "IN"},
                values={"properties": {"sg_post_code": {"type": "null"}}},
            ),
            branch(
                ["country"],
                country={"const": "SG"},
                values={"properties": {"in_pin_code": {"type": "null"}}},
            ),
        ]
    ]

    country: Literal["IN", "SG"] = Field(
        description="ISO 3166-1 alpha-2 code of the form's country: India or Singapore, the "
        "countries WhatsApp has an address form for"
    )
    values: AddressValues | None = None

    @model_validator(mode="after")
    def _own_postal_code(self) -> AddressForm:
        if self.values is None:
            return self
        for country, name in POSTAL_CODE_FIELD.items():
            if country != self.country and getattr(self.values, name) is not None:
                raise ValueError(
                    f"values.{name}: is a field of the {country} form, not the {self.country} one"
                )
        return self
