"""Key secrets and ids."""

from __future__ import annotations

import base64
import hashlib

from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode, display_prefix, generate_secret, hash_secret, mode_of


def test_secret_carries_256_bits_and_its_mode() -> None:
    secret = generate_secret(KeyMode.LIVE)
    assert secret.startswith("cg_live_")
    random_part = secret.removeprefix("cg_live_")
    assert len(base64.urlsafe_b64decode(random_part + "=")) == 32
    assert mode_of(secret) is KeyMode.LIVE
    assert mode_of(generate_secret(KeyMode.TEST)) is KeyMode.TEST
    assert mode_of("sk_live_nope") is None
    assert len({generate_secret(KeyMode.TEST) for _ in range(100)}) == 100


def test_secret_is_stored_as_sha256_and_shown_only_as_a_prefix() -> None:
    secret = generate_secret(KeyMode.TEST)
    assert hash_secret(secret) == hashlib.sha256(secret.encode()).hexdigest()
    shown = display_prefix(secret)
    assert shown.startswith("cg_test_")
    assert len(shown) == len("cg_test_") + 5
    assert secret[len("cg_test_") + 4 :] not in shown


def test_ids_sort_by_time() -> None:
    earlier = new_id("msg", now_ms=1_700_000_000_000)
    later = new_id("msg", now_ms=1_700_000_000_001)
    assert earlier < later
    assert earlier.startswith("msg_")
    assert len(earlier) == 4 + 26
