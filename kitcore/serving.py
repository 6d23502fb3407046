"""What every transport's ``serve`` shares: listen addresses, ``module:attr`` targets, signals.

kit-http, kit-grpc, kit-nats and kit-amqp each serve until SIGINT or SIGTERM, take
their target from the command line as ``module:attr`` and (for the socket servers) their
address as Go does, ``HOST:PORT`` or ``:PORT`` for all interfaces. They do it here, once,
so that every ``kit`` command reads its arguments and stops the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import click


def parse_listen(listen: str) -> tuple[str, int]:
    """``"HOST:PORT"``, ``":PORT"`` (all interfaces, as Go) or ``"scheme://HOST:PORT"``."""
    address = listen.split("://", 1)[1] if "://" in listen else listen
    host, sep, port = address.rstrip("/").rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"bad listen address {listen!r}: want HOST:PORT or :PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


class ListenError(OSError):
    """The server cannot listen on its address: in use, not permitted, or no such host."""

    def __str__(self) -> str:
        # The sentence alone, without OSError's "[Errno 98]": it is meant for people.
        return str(self.strerror or super().__str__())


def check_listen(host: str, port: int) -> None:
    """Raise ListenError now, before any server starts, when ``host:port`` cannot be bound.

    Each server reports a failed bind its own way (a traceback, ``sys.exit(1)``, a log
    line): one clear error here, and no ``started`` callback for a server never listening.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ListenError(exc.errno, f"cannot listen on {host}:{port}: {reason}") from None


def load(spec: str) -> Any:
    """Import ``"package.module:attr"`` (attr may be dotted) and return the object."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"bad target {spec!r}: want module:attr")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def load_target(spec: str) -> Any:
    """``load`` for a command's TARGET argument: errors are one usage line, not a traceback.

    Like ``python -m``, modules in the current directory can be named.
    """
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        return load(spec)
    except (ImportError, AttributeError, ValueError) as exc:
        raise click.BadParameter(f"{spec!r}: {exc}", param_hint="TARGET") from None


def on_signals(stop: Callable[[], None]) -> Callable[[], None]:
    """Route SIGINT/SIGTERM to ``stop`` while serving (main thread only); returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Loops without signal handling (Windows' Proactor loop) raise NotImplementedError,
        # and RuntimeError comes when the signal cannot be routed here: that signal then
        # keeps its default handling.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
            installed.append(sig)

    def undo() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return undo


def freeze_heap() -> None:
    """Collect once, then keep what start-up made out of later collections (``gc.freeze``).

    A server's modules, app and pools live as long as it does, yet every full collection
    scans them again: in a large process one took 57-78 ms, holding the loop and every
    call it was waiting on. ``kit serve`` calls this once the server listens.
    """
    gc.collect()
    gc.freeze()


class Drainable(Protocol):
    """A server that starts and stops by draining: the message transports' Subscribers."""

    async def start(self) -> None:
        """Start taking requests."""
        ...

    def stop(self, timeout: float = ...) -> Awaitable[None]:
        """Take no new requests, finish those in flight (at most ``timeout`` seconds)."""
        ...


async def serve_until_stopped(
    server: Drainable,
    *,
    drain_timeout: float,
    handle_signals: bool = True,
    started: Callable[[], None] | None = None,
) -> None:
    """Start ``server``, run until cancelled or SIGINT/SIGTERM, then drain it.

    ``started()`` is called once it serves. With ``handle_signals=False`` (a process
    serving HTTP beside it leaves the signals to the HTTP server, one handler per
    signal) only cancelling the caller's task stops it.
    """
    stopping = asyncio.Event()
    undo = on_signals(stopping.set) if handle_signals else (lambda: None)
    try:
        await server.start()
        if started is not None:
            started()
        try:
            await stopping.wait()
        finally:
            await asyncio.shield(server.stop(drain_timeout))
    finally:
        undo()
