"""The event loop Chatgate's own processes run on: uvloop where installed, as under uvicorn.

``chatgate serve`` runs on uvicorn's loop, which is uvloop when ``uvicorn[standard]`` brought
it; ``chatgate worker`` and the benchmarks run the same one, so that they behave, and are
measured, alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def fast_event_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory where it is installed, else ``None`` (asyncio's own loop)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on the fast loop (like ``asyncio.run``)."""
    with asyncio.Runner(loop_factory=fast_event_loop()) as runner:
        return runner.run(main)


async def cancel_and_wait(task: asyncio.Task[Any]) -> BaseException | None:
    """Cancel ``task``, wait for it to end, and return what it failed with (``None`` when it
    was cancelled or finished).

    Unlike awaiting it under ``suppress(CancelledError)``, this never swallows a cancellation
    of the caller itself: a caller being stopped still stops here. The task's failure is
    consumed (returned, not raised), so a caller that already handled it is not handed it
    twice.
    """
    task.cancel()
    await asyncio.wait({task})
    return None if task.cancelled() else task.exception()
