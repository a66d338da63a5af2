"""The vendor APIs Chatgate also speaks, and the key formats their clients expect.

A *dialect* serves a vendor's documented API verbatim on Chatgate's own core (see
``chatgate.compat``). Its keys carry the vendor's prefix, so that a client's own checks of a
key's shape (and an operator's eye) still recognise one. A key is of exactly one kind: the
native API's (``cg_``) or one dialect's, and is accepted only on that API's routes.
"""

from __future__ import annotations

from enum import StrEnum

from chatgate.domain.keys import KeyMode


class Dialect(StrEnum):
    """A vendor API served under ``/compat/<dialect>/``."""

    THIKAA = "thikaa"
    WHAUTOCHAT = "whautochat"
    MESSAGEHUB = "messagehub"
    BIK = "bik"
    WASESSIONS = "wasessions"


# The secret prefix of each kind of key and mode; ``None`` is the native API's.
_PREFIXES: dict[Dialect | None, dict[KeyMode, str]] = {
    None: {KeyMode.LIVE: "cg_live_", KeyMode.TEST: "cg_test_"},
    # The vendor documents only live keys; test keys follow its pattern.
    Dialect.THIKAA: {KeyMode.LIVE: "tk_live_", KeyMode.TEST: "tk_test_"},
    # The page shows no key format: "wac_" (WhautoChat) and the mode.
    Dialect.WHAUTOCHAT: {KeyMode.LIVE: "wac_live_", KeyMode.TEST: "wac_test_"},
    Dialect.MESSAGEHUB: {KeyMode.LIVE: "cpk_live_", KeyMode.TEST: "cpk_test_"},
    # Bik's page shows its token only as AUTH_TOKEN: ours carry the dialect's name.
    Dialect.BIK: {KeyMode.LIVE: "bik_live_", KeyMode.TEST: "bik_test_"},
    # The WhatsApp-sessions page shows its key only as YOUR_API_KEY: "was_" (WhatsApp
    # sessions) and the mode.
    Dialect.WASESSIONS: {KeyMode.LIVE: "was_live_", KeyMode.TEST: "was_test_"},
}


def secret_prefix(dialect: Dialect | None, mode: KeyMode) -> str:
    """How a secret of ``dialect`` (``None``: the native API) and ``mode`` begins."""
    return _PREFIXES[dialect][mode]


def kind_of(secret: str) -> tuple[Dialect | None, KeyMode] | None:
    """The dialect (``None``: native) and mode a secret claims by its prefix, or ``None``
    when it has none of Chatgate's prefixes."""
    for dialect, modes in _PREFIXES.items():
        for mode, prefix in modes.items():
            if secret.startswith(prefix):
                return dialect, mode
    return None
