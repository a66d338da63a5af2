"""The parse of a JSON body, for the send lane and the platforms' webhooks alike.

Python's parser recurses once for each level of nesting, so a few kilobytes of brackets
exhaust the interpreter's stack; unchecked, that ended a webhook in a 500. Here such a body
is a ``ValueError`` like any other unreadable one, answered 400 as the framework answers it
on the routed API. A body kept as it came (a platform's webhook) is also held to
``MAX_DEPTH`` levels, which the JSON encoder can write back; the API's request models hold
theirs to the same depth.
"""

from __future__ import annotations

import json
from typing import Any

# Deeper JSON than this is refused before it reaches the JSON encoder (whose limit is 254)
# or Python's recursion limit; no field of ours or of a platform's nests more than a few levels.
MAX_DEPTH = 64


class UnreadableJson(ValueError):
    """A body that is JSON, but nested too deeply to be read or kept."""


def load_json(raw: bytes | str, *, max_depth: int | None = MAX_DEPTH) -> Any:
    """The JSON value of ``raw``; raises ``ValueError`` when it is not JSON or nests too deeply.

    ``max_depth=None`` leaves the depth to the caller (the API's request models refuse
    deeper nesting themselves, naming the field); the interpreter's limit still holds.
    """
    try:
        value = json.loads(raw)
    except RecursionError:
        raise UnreadableJson("the JSON nests too deeply to be read") from None
    if max_depth is not None and _nests_deeper(value, max_depth):
        raise UnreadableJson(f"the JSON nests more than {max_depth} levels deep")
    return value


def _nests_deeper(value: Any, limit: int) -> bool:
    # Level by level rather than by recursion, which is what the limit guards against.
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        following: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            following.extend(child for child in children if isinstance(child, dict | list))
        level = following
    return False
