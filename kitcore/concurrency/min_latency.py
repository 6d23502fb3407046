"""MinLatency: the smallest latency each method showed lately, a floor no call goes below.

A call cannot finish faster than the fastest recent call of its method, so a request
whose remaining deadline is below that is doomed: running it only spends capacity that
live requests need. The minimum is kept over two windows of ``window`` seconds (the
current one and the last), so it follows a method that became slower instead of
remembering one lucky call forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class _Window:
    __slots__ = ("current", "previous", "started")

    def __init__(self, started: float) -> None:
        self.started = started
        self.current = float("inf")
        self.previous = float("inf")


class MinLatency:
    """Windowed minimum latency per method name; use it from one event loop."""

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        if window <= 0:
            raise ValueError(f"window must be > 0, got {window}")
        self._window = window
        self.clock = clock
        self._methods: dict[str, _Window] = {}

    def _roll(self, method: str) -> _Window:
        now = self.clock()
        w = self._methods.get(method)
        if w is None:
            w = self._methods[method] = _Window(now)
        elif now - w.started >= self._window:
            # Two windows or more passed: the old minimum says nothing any more.
            w.previous = w.current if now - w.started < 2 * self._window else float("inf")
            w.current = float("inf")
            w.started = now
        return w

    def observe(self, method: str, seconds: float) -> None:
        """Record one successful call of ``method`` that took ``seconds``."""
        w = self._roll(method)
        if seconds < w.current:
            w.current = seconds

    def get(self, method: str) -> float | None:
        """The method's minimum latency over the last one or two windows, or None if unknown."""
        w = self._roll(method)
        floor = min(w.current, w.previous)
        return None if floor == float("inf") else floor
