"""Message statuses and the rule that they only move forward."""

from __future__ import annotations

import functools
from enum import StrEnum


class Status(StrEnum):
    """Where a message is in its life."""

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    CANCELED = "canceled"
    RECEIVED = "received"
    UNKNOWN = "unknown"


# How far a message has got; statuses outside this map are not steps of delivery.
PROGRESS: dict[Status, int] = {
    Status.SCHEDULED: 0,
    Status.QUEUED: 1,
    Status.SENT: 2,
    Status.DELIVERED: 3,
    Status.READ: 4,
}


# Accepted and not yet handed to a platform: still sendable, still cancelable.
UNSENT = frozenset({Status.SCHEDULED, Status.QUEUED})


@functools.cache
def replaced_by(new: Status) -> frozenset[Status]:
    """The statuses that ``new`` may replace: those it moves forward from."""
    return frozenset(status for status in Status if moves_forward(status, new))


def has_reached(status: Status, goal: Status) -> bool:
    """Whether a message now at ``status`` got at least as far as ``goal``."""
    return PROGRESS.get(status, -1) >= PROGRESS[goal]


def moves_forward(current: Status, new: Status) -> bool:
    """Whether ``new`` may replace ``current`` as a message's status.

    A late receipt (``delivered`` after ``read``) is recorded as an event but must not
    regress the status; ``failed`` and ``canceled`` end a message that is not yet final.
    """
    if new is Status.UNKNOWN or current in (Status.FAILED, Status.CANCELED, Status.RECEIVED):
        return False
    if new in (Status.FAILED, Status.CANCELED):
        return current is not Status.READ
    return PROGRESS.get(new, -1) > PROGRESS.get(current, -1)
