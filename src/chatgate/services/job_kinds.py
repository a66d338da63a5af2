"""The kinds of job the delivery engine runs, and the send job of a new message."""

from __future__ import annotations

from typing import Any

from chatgate.channels.registry import held_exclusively
from chatgate.domain.records import Message
from chatgate.storage import jobs as job_store

SEND_JOB = "send"
RECEIPT_JOB = "receipt"
FALLBACK_CHECK_JOB = "fallback_check"
MEDIA_FETCH_JOB = "media_fetch"
STATUS_MATCH_JOB = "status_match"
ACKNOWLEDGE_JOB = "acknowledge"
RESULT_POLL_JOB = "result_poll"


def send_job_row(message: Message) -> dict[str, Any]:
    """The send job of a new message, due when it is: one through a held connection (a
    linked-device session) is claimed only by the worker that holds that connection."""
    held = message.connection_id is not None and held_exclusively(message.channel)
    return job_store.job_row(
        SEND_JOB,
        message.due_at,
        message_id=message.id,
        held_by_connection=message.connection_id if held else None,
    )
