"""Helpers for testing kit-http apps against real servers: no mocks, real sockets.

``running(app)`` serves an app on a free loopback port inside the test's event loop;
``ServerThread(app)`` serves it from its own thread and loop, for synchronous tests
(hypothesis, blocking clients). Both stop the server cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

from kit_http.serve import serve
from kitcore.testing.services import free_port


@contextlib.asynccontextmanager
async def running(app: Any, server: str = "uvicorn", **options: Any) -> AsyncIterator[str]:
    """Serve ``app`` on a free port with ``server``; yields its base URL; stops it cleanly."""
    port = free_port()
    started = asyncio.Event()
    task = asyncio.create_task(
        serve(
            app, f"127.0.0.1:{port}", server=server, started=lambda h, p: started.set(), **options
        )
    )
    waiter = asyncio.create_task(started.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        task.cancel()
        await asyncio.gather(waiter, task, return_exceptions=True)
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise RuntimeError(f"{server} did not start") from task.exception()
        raise TimeoutError(f"{server} did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class ServerThread:
    """A server in its own thread and event loop, for synchronous tests (hypothesis)."""

    def __init__(self, app: Any, server: str = "uvicorn") -> None:
        self.app = app
        self.server = server
        self.port = free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kit-http-test-server")
        self.error: BaseException | None = None

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            await serve(
                self.app,
                f"127.0.0.1:{self.port}",
                server=self.server,
                started=lambda h, p: self._started.set(),
            )

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            self.error = exc
            self._started.set()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._started.wait(15) or self.error is not None:
            raise RuntimeError(f"server thread did not start: {self.error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._task is not None
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(15)
        assert not self._thread.is_alive()
