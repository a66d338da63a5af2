"""Where a send finds the linked device it goes through: the process's device host.

A linked-device session is one connection that one process holds (the worker that runs
it, see :mod:`chatgate.services.session_runner`). The ``whatsapp_web`` adapter is built
per send and knows only the session's id; it asks :func:`device_host` of its event loop for
that session's driver, which answers only while the session is connected here. The worker
that runs sessions installs the lookup when it starts and removes it when it stops, as it
does the SMPP pool's sink; a process that runs no sessions has none, and every session is
"not here" to it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

from chatgate.channels.device_driver import DeviceDriver

# The driver of a session connected in this process, or ``None``.
DeviceLookup = Callable[[str], DeviceDriver | None]


class DeviceHost:
    """The process's connected devices, as the installed lookup tells them."""

    def __init__(self) -> None:
        self._lookup: DeviceLookup | None = None

    def set_lookup(self, lookup: DeviceLookup | None) -> None:
        """Find devices through ``lookup`` from now on (``None``: this process holds none)."""
        self._lookup = lookup

    def connected(self, session_id: str) -> DeviceDriver | None:
        """The driver of ``session_id`` if it is connected in this process."""
        return None if self._lookup is None else self._lookup(session_id)


# One per event loop, as the SMPP pool: a driver's client belongs to the loop that made it.
_HOSTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DeviceHost] = (
    weakref.WeakKeyDictionary()
)


def device_host() -> DeviceHost:
    """The device host of the running event loop."""
    loop = asyncio.get_running_loop()
    host = _HOSTS.get(loop)
    if host is None:
        host = _HOSTS[loop] = DeviceHost()
    return host
