"""Admission: an ASGI layer in front of an App that sheds load before any request is decoded.

Shedding is worth most when it costs least: a refused request should cost the server
nothing but the refusal. An Endpoint middleware runs only after the body was read and
decoded; this layer runs first, on the ASGI scope alone, and answers at once:

- over the concurrency limit (a :class:`kitcore.concurrency.Limiter`, fixed or
  adaptive): ``503`` with ``Retry-After`` and the kit wire form of ``resource_exhausted``,
  which a kit client raises as ResourceExhausted and retries on another instance;
- with a ``Kit-Timeout`` below the route's observed minimum latency
  (:class:`kitcore.concurrency.MinLatency`): ``504`` ``deadline_exceeded``, unrun.

Each admitted request's outcome feeds the limit: a reply below 500 is a latency sample
(and a 2xx one feeds the minimum latency of its path), a 504 (the server's own deadline
passed) is a drop, anything else (other 5xx, a client that went away) is ignored. The
wrapped app is untouched, so any ASGI app can sit behind it; lifespan and websocket
scopes pass straight through.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from kitcore.asgi import Receive, Scope, Send
from kitcore.codec import encode
from kitcore.concurrency import Limiter, MinLatency, Permit, too_late
from kitcore.errors import KitError

_TIMEOUT = b"kit-timeout"


class Admission:
    """Wraps the ASGI ``app``: sheds over ``limiter``'s limit and refuses doomed deadlines."""

    def __init__(
        self,
        app: Any,
        limiter: Limiter | None = None,
        *,
        min_latency: MinLatency | None = None,
    ) -> None:
        if limiter is None and min_latency is None:
            raise ValueError("Admission needs a limiter, a min_latency, or both")
        self.app = app
        self.limiter = limiter
        self.min_latency = min_latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if self.min_latency is not None:
            refused = too_late(self.min_latency.get(path), _kit_timeout(scope))
            if refused is not None:
                await _reply(send, refused, ())
                return
        permit: Permit | None = None
        if self.limiter is not None:
            permit = self.limiter.acquire()
            if permit is None:
                error = self.limiter.overloaded()
                retry_after = str(max(0, math.ceil(error.retry_after or 0)))
                await _reply(send, error, ((b"retry-after", retry_after.encode()),))
                return
        await self._serve(scope, receive, send, path, permit)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, path: str, permit: Permit | None
    ) -> None:
        status = 0
        clock = self.min_latency.clock if self.min_latency is not None else None
        start = clock() if clock is not None else 0.0

        async def watch(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except (Exception, asyncio.CancelledError):
            if permit is not None:
                permit.ignore()
            raise
        if 200 <= status < 300 and clock is not None and self.min_latency is not None:
            self.min_latency.observe(path, clock() - start)
        if permit is None:
            return
        if status == 504:
            permit.dropped()
        elif 0 < status < 500:
            permit.success()
        else:
            permit.ignore()


def _kit_timeout(scope: Scope) -> float | None:
    for name, value in scope["headers"]:
        if name == _TIMEOUT:
            try:
                return int(value) / 1000
            except ValueError:
                return None  # the handler answers a malformed header with its own 400
    return None


async def _reply(send: Send, error: KitError, extra: tuple[tuple[bytes, bytes], ...]) -> None:
    body = encode(error.to_wire())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        *extra,
    ]
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
