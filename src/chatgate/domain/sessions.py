"""Linked-device sessions: their states, their pacing settings and the events they log."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SessionState = Literal["stopped", "starting", "scan_qr", "working", "failed"]
SESSION_STATES: tuple[SessionState, ...] = ("stopped", "starting", "scan_qr", "working", "failed")

# Logged on every change of a session's state (and when it is removed: state ``removed``).
SESSION_STATUS_EVENT = "session.status"
# Logged for each QR code a pairing session shows (a new one each time the platform rotates it).
SESSION_QR_EVENT = "session.qr"

# Why a session ended ``failed``.
LOGGED_OUT = "logged_out"
QR_TIMEOUT = "qr_timeout"


class SessionPacing(BaseModel):
    """How fast a session may send: what protects the number from being banned."""

    model_config = ConfigDict(extra="forbid")

    messages_per_minute: int = Field(
        default=20, ge=1, le=600, description="messages the session sends per minute at most"
    )
    new_chats_per_day: int = Field(
        default=50,
        ge=0,
        le=10_000,
        description="first messages per day to numbers that never wrote to this one",
    )
