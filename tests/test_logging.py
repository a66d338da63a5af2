"""Secrets never reach the log, not even through a traceback's local variables."""

from __future__ import annotations

import pytest
import structlog

from chatgate.logging import configure_logging


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_tracebacks_do_not_show_local_variables(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", fmt)
    secret = "cg_live_" + "S3CR3T" * 7

    def authenticate(authorization: str) -> None:
        raise ValueError("refused")

    try:
        authenticate(f"Bearer {secret}")
    except ValueError:
        structlog.get_logger("test").exception("auth.failed")
    output = capsys.readouterr().err
    assert "auth.failed" in output
    assert "ValueError: refused" in output
    assert secret not in output
    configure_logging("warning", "console")
