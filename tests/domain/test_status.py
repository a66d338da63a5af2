"""Statuses only move forward."""

from __future__ import annotations

import pytest

from chatgate.domain.status import Status, moves_forward


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (Status.QUEUED, Status.SENT, True),
        (Status.SENT, Status.DELIVERED, True),
        (Status.DELIVERED, Status.READ, True),
        (Status.QUEUED, Status.READ, True),  # receipts may skip a step
        (Status.READ, Status.DELIVERED, False),  # a late receipt never regresses
        (Status.DELIVERED, Status.SENT, False),
        (Status.SENT, Status.FAILED, True),
        (Status.READ, Status.FAILED, False),
        (Status.FAILED, Status.DELIVERED, False),
        (Status.CANCELED, Status.SENT, False),
        (Status.SENT, Status.UNKNOWN, False),
    ],
)
def test_moves_forward(current: Status, new: Status, allowed: bool) -> None:
    assert moves_forward(current, new) is allowed
