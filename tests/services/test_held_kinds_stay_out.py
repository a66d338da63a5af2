"""The core holds connections without knowing what they are: no module of ``services/``,
``engine/`` or ``storage/`` names SMPP; its binds are a plug-in of the SMPP channel."""

from __future__ import annotations

from pathlib import Path

import chatgate

CORE = ("services", "engine", "storage")


def test_the_core_does_not_name_smpp() -> None:
    root = Path(chatgate.__file__).parent
    naming = sorted(
        str(path.relative_to(root))
        for package in CORE
        for path in (root / package).rglob("*.py")
        if "smpp" in path.read_text(encoding="utf-8").lower()
    )
    assert naming == []
