"""Key secrets and ids."""

from __future__ import annotations

import base64
import hashlib

import pytest

from chatgate.domain.dialects import Dialect, kind_of, secret_prefix
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode, display_prefix, generate_secret, hash_secret


def test_secret_carries_256_bits_and_its_kind() -> None:
    secret = generate_secret(secret_prefix(None, KeyMode.LIVE))
    assert secret.startswith("cg_live_")
    random_part = secret.removeprefix("cg_live_")
    assert len(base64.urlsafe_b64decode(random_part + "=")) == 32
    assert kind_of(secret) == (None, KeyMode.LIVE)
    assert kind_of(generate_secret(secret_prefix(None, KeyMode.TEST))) == (None, KeyMode.TEST)
    assert kind_of("sk_live_nope") is None
    assert len({generate_secret("cg_test_") for _ in range(100)}) == 100


@pytest.mark.parametrize(
    ("dialect", "mode", "prefix"),
    [
        (Dialect.THIKAA, KeyMode.LIVE, "tk_live_"),
        (Dialect.THIKAA, KeyMode.TEST, "tk_test_"),
        (Dialect.WHAUTOCHAT, KeyMode.LIVE, "wac_live_"),
        (Dialect.WHAUTOCHAT, KeyMode.TEST, "wac_test_"),
        (Dialect.MESSAGEHUB, KeyMode.LIVE, "cpk_live_"),
        (Dialect.MESSAGEHUB, KeyMode.TEST, "cpk_test_"),
    ],
)
def test_a_dialect_key_has_its_vendors_prefix(dialect: Dialect, mode: KeyMode, prefix: str) -> None:
    assert secret_prefix(dialect, mode) == prefix
    assert kind_of(generate_secret(prefix)) == (dialect, mode)


def test_secret_is_stored_as_sha256_and_shown_only_as_a_prefix() -> None:
    secret = generate_secret("cg_test_")
    assert hash_secret(secret) == hashlib.sha256(secret.encode()).hexdigest()
    shown = display_prefix(secret, "cg_test_")
    assert shown.startswith("cg_test_")
    assert len(shown) == len("cg_test_") + 5
    assert secret[len("cg_test_") + 4 :] not in shown


def test_ids_sort_by_time() -> None:
    earlier = new_id("msg", now_ms=1_700_000_000_000)
    later = new_id("msg", now_ms=1_700_000_000_001)
    assert earlier < later
    assert earlier.startswith("msg_")
    assert len(earlier) == 4 + 26
