"""Reading request bodies within a size limit and a time limit, without a timer per request.

A client that stops sending mid-body must not hold a request open forever, but arming
a timer around every ``receive()`` would cost every request. Instead a request reading
its body registers its task in ``BodyWatch.reading`` (one dict store), and one sweep
timer, running only while some body is being read, cancels the tasks that have been
reading for longer than the timeout. The handler turns that cancellation into a 408.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kit_http.errors import PayloadTooLarge, RequestTimeout
from kitcore.asgi import Receive

_SWEEPS = 4
"""A task is cancelled in the sweep after it has been seen by this many sweeps."""


class Disconnected(Exception):
    """The body ended before its end: the client closed (or half-closed) the connection.

    The server answers ``INCOMPLETE`` (a 400 closing the connection): a client that only
    half-closed still reads it, one that left never sees it, and no server has a reason
    to invent a 500 for a request that got no answer.
    """


INCOMPLETE_BODY = b'{"code":"invalid_argument","message":"request body ended before its length"}'
"""The wire error sent when the body ended early."""

INCOMPLETE_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", b"%d" % len(INCOMPLETE_BODY)),
    (b"connection", b"close"),
]
"""Its headers: the connection cannot carry another request."""


class BodyWatch:
    """Times out the body reads that take longer than ``timeout`` seconds (up to 25% late)."""

    def __init__(self, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError(f"body_timeout must be > 0, got {timeout!r}")
        self.timeout = timeout
        self.reading: dict[asyncio.Task[Any], int] = {}
        self.tick = 0
        self.timer: asyncio.TimerHandle | None = None
        self._expired: set[asyncio.Task[Any]] = set()

    def arm(self) -> None:
        """Start the sweep timer (called when a read begins and none is running)."""
        self.timer = asyncio.get_running_loop().call_later(self.timeout / _SWEEPS, self._sweep)

    def _sweep(self) -> None:
        self.tick += 1
        limit = self.tick - _SWEEPS - 1
        for task, stamp in list(self.reading.items()):
            if stamp <= limit and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        self.timer = None
        if self.reading:
            self.arm()

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """True (once) when the watch cancelled ``task``; the cancellation is then undone."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        uncancel = getattr(task, "uncancel", None)  # Python >= 3.11
        if uncancel is not None:
            uncancel()
        return True

    def stop(self) -> None:
        """Stop the sweep timer (at shutdown)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def timed_out(self) -> RequestTimeout:
        """The error a timed-out read becomes."""
        return RequestTimeout(
            f"request body not received within {self.timeout:g}s",
            details={"timeout": self.timeout},
        )


def too_large(limit: int) -> PayloadTooLarge:
    """The error for a body over ``limit`` bytes."""
    return PayloadTooLarge(f"request body is over {limit} bytes", details={"limit": limit})


async def read_more(receive: Receive, first: bytes, limit: int) -> bytes:
    """Read the rest of a body that came in several messages, stopping past ``limit``."""
    chunks = [first]
    size = len(first)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
