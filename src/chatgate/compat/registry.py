"""The dialects this gateway serves, each mounted at ``/compat/<dialect>``."""

from __future__ import annotations

from chatgate.compat.bik import BIK
from chatgate.compat.dialect_app import DialectApi
from chatgate.compat.messagehub import MESSAGEHUB
from chatgate.compat.thikaa import THIKAA
from chatgate.compat.wasessions import WASESSIONS
from chatgate.compat.whautochat import WHAUTOCHAT


def dialect_apis() -> tuple[DialectApi, ...]:
    """Every dialect package's API, in mounting order."""
    return (THIKAA, WHAUTOCHAT, MESSAGEHUB, BIK, WASESSIONS)
