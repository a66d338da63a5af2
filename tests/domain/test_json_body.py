"""The one parse of a JSON body: what is read, and what is refused as unreadable."""

from __future__ import annotations

import json

import pytest

from chatgate.domain.json_body import MAX_DEPTH, UnreadableJson, load_json


def _nested(levels: int) -> bytes:
    return b'{"a": ' * (levels - 1) + b"[1]" + b"}" * (levels - 1)


def test_nesting_up_to_the_limit_is_read() -> None:
    value = load_json(_nested(MAX_DEPTH))
    for _ in range(MAX_DEPTH - 1):
        value = value["a"]
    assert value == [1]


def test_one_level_more_is_refused() -> None:
    with pytest.raises(UnreadableJson, match=f"more than {MAX_DEPTH} levels"):
        load_json(_nested(MAX_DEPTH + 1))
    # Wide is not deep: many containers side by side on one level are fine.
    assert load_json(json.dumps([[1]] * 10_000)) == [[1]] * 10_000


def test_past_the_interpreter_is_refused_whatever_the_limit() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    for max_depth in (MAX_DEPTH, None):
        with pytest.raises(UnreadableJson, match="too deeply"):
            load_json(deep, max_depth=max_depth)


def test_the_depth_may_be_left_to_the_caller() -> None:
    assert load_json(_nested(MAX_DEPTH + 1), max_depth=None)["a"]


def test_what_is_not_json_is_the_parsers_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        load_json(b'{"to": ')
    assert issubclass(UnreadableJson, ValueError)
