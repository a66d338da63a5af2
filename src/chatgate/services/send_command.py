"""What the API asks the send service to accept: one message, validated field by field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatgate.domain.channels import ChannelType
from chatgate.domain.fallback import FallbackStep


@dataclass(frozen=True, slots=True)
class SendCommand:
    """One message to accept.

    Addressed to a contact (``contact_id``), ``to`` is empty until routing fills it in, and
    ``channel`` is ``None`` for ``"channel": "auto"`` until routing chooses; so may a
    fallback step's ``to`` be, to be the contact's identity on its channel.
    """

    channel: ChannelType | None
    to: str
    content: dict[str, Any]
    sender: str | None = None
    metadata: dict[str, Any] | None = None
    reply_to: str | None = None
    schedule_at: datetime | None = None
    fallback: tuple[FallbackStep, ...] = ()
    options: dict[str, Any] | None = None
    # Render content down to what the channel carries instead of refusing it.
    degrade: bool = False
    # Rewrite the links of the text to the gateway's /l/{code}, which counts clicks.
    track_links: bool = False
    contact_id: str | None = None
    distribution_id: str | None = None

    @property
    def routed_channel(self) -> ChannelType:
        """The channel, once known (routing has run for a send to a contact on auto)."""
        if self.channel is None:
            raise ValueError("the command is addressed to a contact and not yet routed")
        return self.channel
