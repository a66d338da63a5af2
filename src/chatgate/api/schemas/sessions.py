"""Bodies of ``/v1/sessions``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from chatgate.api.schemas.common import ApiModel
from chatgate.domain.sessions import SessionPacing, SessionState
from chatgate.services.sessions import SessionView

SessionName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")
]


class PacingChange(ApiModel):
    """Pacing settings to change; those not given keep their value."""

    messages_per_minute: int | None = Field(default=None, ge=1, le=600)
    new_chats_per_day: int | None = Field(default=None, ge=0, le=10_000)


class CreateSessionRequest(ApiModel):
    """A new linked-device session: it starts at once and shows a QR code to scan."""

    name: SessionName = Field(description="unique in the account; `from` names it in sends")
    pacing: PacingChange = Field(default_factory=PacingChange)

    def pacing_settings(self) -> SessionPacing:
        """The pacing asked for, defaults filled in."""
        return SessionPacing.model_validate(self.pacing.model_dump(exclude_none=True))


class UpdateSessionRequest(ApiModel):
    """Changes to a session: its name, its pacing (merged into the old)."""

    name: SessionName | None = None
    pacing: PacingChange | None = None

    def pacing_given(self) -> dict[str, Any] | None:
        """The pacing settings named, as the service merges them."""
        return None if self.pacing is None else self.pacing.model_dump(exclude_none=True)


class SessionOut(BaseModel):
    """A session as the API shows it: never the device's keys."""

    id: str = Field(examples=["ses_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    object: Literal["session"] = "session"
    name: str
    state: SessionState
    reason: str | None = Field(description="why the session is failed or was disconnected")
    phone: str | None = Field(description="the paired phone's number")
    phone_name: str | None = Field(description="the paired phone's profile name")
    pacing: SessionPacing
    created_at: datetime
    updated_at: datetime
    state_changed_at: datetime

    @classmethod
    def of(cls, view: SessionView) -> SessionOut:
        """The API's view of a session."""
        return cls(
            id=view.id,
            name=view.name,
            state=view.state,
            reason=view.reason,
            phone=view.phone,
            phone_name=view.phone_name,
            pacing=SessionPacing.model_validate(view.pacing),
            created_at=view.created_at,
            updated_at=view.updated_at,
            state_changed_at=view.state_changed_at,
        )


class SessionList(BaseModel):
    """Every session of the account."""

    object: Literal["list"] = "list"
    data: list[SessionOut]
