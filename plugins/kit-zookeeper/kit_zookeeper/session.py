"""Session: one kazoo client driven from asyncio without ever blocking the loop.

kazoo runs its own threads (a connection thread and two callback workers) and reports
results, watches and connection states from them. Everything here crosses back to the
loop with ``call_soon_threadsafe``: ``run()`` awaits a kazoo ``*_async`` call through
its completion callback, ``notifier()`` makes a watch function that wakes the loop, and
state changes reach ``on_state`` on the loop. The blocking calls, starting and stopping
the client, run in a short-lived thread of their own, so that once ``close()`` returns
no thread this session started is left, not even an executor's.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from kazoo.client import KazooClient, KazooState  # type: ignore[import-untyped]

from kit_zookeeper.config import ZooKeeperConfig

T = TypeVar("T")


def call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
    """Schedule ``callback(*args)`` on ``loop`` from any thread; dropped if the loop is closed."""
    with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is left to tell
        loop.call_soon_threadsafe(callback, *args)


async def in_thread(function: Callable[[], T], name: str) -> T:
    """Run a blocking ``function`` in a new thread; return once the thread has ended."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)  # type: ignore[arg-type]

    def run() -> None:
        try:
            value = function()
        except BaseException as exc:  # handed to the awaiting coroutine
            call_soon(loop, settle, None, exc)
        else:
            call_soon(loop, settle, value, None)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        return await future
    finally:
        if future.done() and not future.cancelled():
            # The thread's last act was handing over the result: this join takes
            # microseconds, and afterwards the thread is truly gone.
            thread.join()


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set; False if ``timeout`` seconds passed first.

    Not ``asyncio.wait_for``: on Python 3.11 it swallows a cancellation that arrives as
    the event is set (CPython gh-86296), and a watch loop whose cancel was swallowed
    never ends, so the instancer's close() waited for ever.
    """
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    return bool(done)


class Session:
    """A kazoo client for ``config``; ``on_state(KazooState)`` is called on the loop.

    ``connected`` says whether a session is live right now. Create it on the loop that
    will use it.
    """

    def __init__(
        self, config: ZooKeeperConfig, on_state: Callable[[str], None] | None = None
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_state = on_state
        self._connected = asyncio.Event()
        self._closed = False
        # Start and stop run in threads of their own: the lock keeps them in order.
        self._lifecycle = threading.Lock()
        self._stopped = False
        self._restarts: set[asyncio.Task[None]] = set()
        self.client = KazooClient(
            hosts=config.connection_string,
            timeout=config.session_timeout,
            auth_data=config.auth_data or None,
            default_acl=config.acl,
            connection_retry=config.connection_retry(),
        )
        self.client.add_listener(self._listener)

    @property
    def connected(self) -> bool:
        """True while a session is established."""
        return self._connected.is_set()

    def _listener(self, state: str) -> None:
        # kazoo's connection thread: must not block, so only hand the state over.
        call_soon(self._loop, self._state_changed, state)

    def _state_changed(self, state: str) -> None:
        if state == KazooState.CONNECTED:
            self._connected.set()
        else:
            self._connected.clear()
        if self._on_state is not None and not self._closed:
            self._on_state(state)
        if (
            state == KazooState.LOST
            and not self._stopped
            and self.client._connection.connection_stopped.is_set()
        ):
            # kazoo's connection loop can give up for good, even with unlimited retries
            # ("Failed connecting to Zookeeper within the connection retry policy", seen
            # when a connect times out mid-handshake while the server starts): start it
            # again, or the session would never come back.
            restart = self._loop.create_task(self.start(), name="kit-zookeeper restart")
            self._restarts.add(restart)
            restart.add_done_callback(self._restarts.discard)

    async def start(self) -> None:
        """Start connecting (kazoo keeps reconnecting on its own from then on)."""

        def start() -> None:
            with self._lifecycle:
                if not self._stopped:  # a close() that overtook this start wins
                    self.client.start_async()

        await in_thread(start, "kit-zookeeper start")

    async def wait_connected(self, timeout: float | None) -> bool:
        """Wait until a session is live; False if ``timeout`` seconds passed first."""
        return await wait_event(self._connected, timeout)

    async def run(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call a kazoo ``*_async`` method and await its result (or its exception)."""
        future: asyncio.Future[Any] = self._loop.create_future()

        def settle(result: Any) -> None:
            if future.done():
                return  # the caller gave up
            if result.successful():
                future.set_result(result.value)
            else:
                future.set_exception(result.exception)

        method(*args, **kwargs).rawlink(lambda result: call_soon(self._loop, settle, result))
        return await future

    def notifier(self, callback: Callable[[], None]) -> Callable[[Any], None]:
        """Return a kazoo watch function that runs ``callback()`` on the loop when it fires."""

        def watch(_event: Any) -> None:
            call_soon(self._loop, callback)

        return watch

    async def close(self) -> None:
        """End the session and stop every kazoo thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._connected.clear()

        def stop() -> None:
            with self._lifecycle:
                self._stopped = True
                self.client.stop()  # joins kazoo's threads
                self.client.close()
                self.client.remove_listener(self._listener)

        await in_thread(stop, "kit-zookeeper stop")
        if self._restarts:  # a restart that raced this close found it stopped: let it end
            await asyncio.gather(*self._restarts, return_exceptions=True)
