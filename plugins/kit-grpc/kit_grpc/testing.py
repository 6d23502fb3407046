"""Helpers for testing gRPC services against real servers: no mocks, real sockets.

``running(target)`` serves a service on a free loopback port inside the test's event
loop and yields ``"127.0.0.1:PORT"``; ``ServerThread(target)`` serves it from its own
thread and loop, for synchronous tests (hypothesis, blocking grpc stubs). Both drain the
server when done.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

from kit_grpc.serve import start


@contextlib.asynccontextmanager
async def running(target: Any, *, grace: float = 1.0, **options: Any) -> AsyncIterator[str]:
    """Serve ``target`` on a free loopback port; yields ``host:port``; drains it after."""
    server = await start(target, "127.0.0.1:0", **options)
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        await server.drain(grace)


class ServerThread:
    """A server in its own thread and event loop, for synchronous tests."""

    def __init__(self, target: Any, **options: Any) -> None:
        self.target = target
        self.options = options
        self.address = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kit-grpc-test-server")
        self.error: BaseException | None = None

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            server = await start(self.target, "127.0.0.1:0", **self.options)
            self.address = f"127.0.0.1:{server.port}"
            self._started.set()
            try:
                await self._stop.wait()
            finally:
                await server.drain(1.0)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc
            self._started.set()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._started.wait(15) or self.error is not None:
            raise RuntimeError(f"server thread did not start: {self.error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        assert not self._thread.is_alive()
