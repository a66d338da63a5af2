"""WhautoChat's one answer shape, ``MessageResponse``: for a send and for every refusal."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from chatgate.compat.dialect_app import error_responses


class MessageResponse(BaseModel):
    """A message accepted (``id``, its status, no error), or refused (no id, ``failed``, and
    what is wrong, naming the field)."""

    id: str | None = Field(description="Chatgate's id of the message, msg_…; null if refused")
    status: str = Field(
        description="queued (on its way), scheduled (sent at scheduleDateTime), or failed "
        "(refused: see error)",
        examples=["queued"],
    )
    error: str | None = Field(
        description="null, or what is wrong, led by the field it is about",
        examples=[None, "contact.id: no contact ct_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"],
    )


class Refusal(MessageResponse):
    """A refusal: no id, ``failed``, and the error."""

    id: None = None
    status: Literal["failed"] = "failed"
    error: str


def refusal_body(error: str) -> dict[str, Any]:
    """The body of a refusal saying ``error``."""
    return Refusal(error=error).model_dump()


_DESCRIPTIONS = {
    400: "Bad input (the error names the field), or a rule of the channel refuses the message "
    "(outside WhatsApp's 24-hour window, a type the channel cannot carry)",
    401: "Missing, unknown or revoked x-api-key",
    403: "workspace.id is not the key's workspace, the key lacks a scope or channel, or the "
    "workspace is out of credit",
    404: "No such route, or no such contact",
    429: "Rate limit of the key; see Retry-After",
}
ERROR_RESPONSES = error_responses(Refusal, _DESCRIPTIONS)
