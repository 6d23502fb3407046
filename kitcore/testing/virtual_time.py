"""Virtual time: an asyncio event loop whose clock jumps to the next timer instead of sleeping.

``VirtualTimeLoop.time()`` is a number the loop moves: when no callback is ready and
no file is readable, the selector advances the clock by the time to the next timer and
returns, so ``asyncio.sleep(3600)`` takes no wall time and timers fire in order at
their exact instants. kit measures deadlines on the running loop's clock
(``kitcore.context.now``), so kit's real Retry, attempt timeouts, balancers and
deadline middlewares run on it unchanged: a fleet simulation (``bench/fleet.py``) or a
test of timeouts runs simulated minutes in milliseconds, the same way each time.

Sockets still work (the selector polls them without waiting), but a peer in another
process lives on the real clock: use the loop for code whose waits are timers.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector(selectors.SelectSelector):
    """A selector that, when no file is ready, advances its loop's clock by the timeout."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready:
            return ready
        if timeout is None:
            raise RuntimeError("virtual time: nothing is ready and no timer is due (deadlock)")
        assert self.loop is not None
        self.loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time: the clock jumps to the next timer when idle."""

    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = start
        selector = _JumpingSelector()
        super().__init__(selector)
        selector.loop = self

    def time(self) -> float:
        """The virtual clock, in seconds."""
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (the selector does it when the loop is idle)."""
        if seconds > 0:
            self._virtual_now += seconds


def run(main: Callable[[], Coroutine[Any, Any, T]], start: float = 0.0) -> T:
    """Run the coroutine function ``main`` on a fresh VirtualTimeLoop and close it after.

    A run that waits on nothing (no timer, no file) raises RuntimeError (a deadlock).
    """
    loop = VirtualTimeLoop(start)
    try:
        return loop.run_until_complete(main())
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
