"""The audit log as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from chatgate.storage.audit import AuditEntry


class AuditOut(BaseModel):
    """One entry: who did what to which object, from where, and how it ended."""

    id: str = Field(examples=["aud_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    object: Literal["audit_entry"] = "audit_entry"
    created_at: datetime
    action: str = Field(examples=["template.created", "auth.refused"])
    target: str | None = Field(description="the id of the object acted on")
    outcome: Literal["succeeded", "refused"]
    key_id: str | None = Field(description="the key that acted; none from the command line")
    source_ip: str | None
    detail: dict[str, Any] | None = Field(description="what changed; never a secret")

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        """The API view of a stored entry."""
        return cls(
            id=entry.id,
            created_at=entry.created_at,
            action=entry.action,
            target=entry.target,
            outcome=entry.outcome,
            key_id=entry.api_key_id,
            source_ip=entry.source_ip,
            detail=entry.detail,
        )


class AuditList(BaseModel):
    """A page of the log, newest first."""

    object: Literal["list"] = "list"
    data: list[AuditOut]
    has_more: bool
    next_cursor: str | None = Field(description="pass as `cursor` to get older entries")
