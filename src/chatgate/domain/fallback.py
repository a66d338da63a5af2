"""Fallback chains: when one step fails, or misses a status in time, the next is sent."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chatgate.domain.schema_rules import integer_pattern
from chatgate.domain.status import Status

_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WITHIN = timedelta(days=7)
# At most seven digits and a unit, from 1s to 7d: the same bound as a pattern, so that the
# OpenAPI document states it.
WITHIN_PATTERN = "^(?:{})$".format(
    "|".join(
        integer_pattern(int(MAX_WITHIN.total_seconds()) // seconds, 7) + unit
        for unit, seconds in _UNIT_SECONDS.items()
    )
)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``5m``, ``2h`` or ``1d`` as a timedelta; ``ValueError`` otherwise."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError("must be a number and a unit, e.g. 90s, 5m, 2h or 1d")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not 1 <= seconds <= MAX_WITHIN.total_seconds():
        raise ValueError("must be between 1s and 7d")
    return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class Trigger:
    """When to move on: the step before failed, or it has not reached ``goal`` in time."""

    goal: Status | None = None
    within: timedelta | None = None

    @property
    def on_failure_only(self) -> bool:
        """Whether only a failure moves the chain on."""
        return self.goal is None

    def describe(self) -> str:
        """Words for the event that records why the chain moved on."""
        if self.goal is None or self.within is None:
            return "failed"
        return f"not {self.goal.value} within {int(self.within.total_seconds())}s"

    def to_json(self) -> Any:
        """The stored form (the API's form)."""
        if self.goal is None or self.within is None:
            return "failed"
        return {"not": self.goal.value, "within": f"{int(self.within.total_seconds())}s"}

    @classmethod
    def from_json(cls, value: Any) -> Trigger:
        """Read the stored form."""
        if value == "failed":
            return cls()
        return cls(goal=Status(value["not"]), within=parse_duration(value["within"]))


@dataclass(frozen=True, slots=True)
class FallbackStep:
    """One step after the first: where to send, what, and when to move on to it."""

    channel: str
    to: str
    content: dict[str, Any]
    on: Trigger
    # What accept rendered down for this step's channel (``"degrade": true``), if anything.
    degraded: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        stored = {
            "channel": self.channel,
            "to": self.to,
            "content": self.content,
            "on": self.on.to_json(),
        }
        if self.degraded is not None:
            stored["degraded"] = self.degraded
        return stored

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> FallbackStep:
        """Read the stored form."""
        return cls(
            value["channel"],
            value["to"],
            value["content"],
            Trigger.from_json(value["on"]),
            value.get("degraded"),
        )
