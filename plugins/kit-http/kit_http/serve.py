"""Serving an app on a real ASGI server, and the ``kit serve module:attr`` command.

``serve(target, url)`` runs until cancelled or until SIGINT/SIGTERM, then shuts down
gracefully: the server stops accepting, in-flight requests finish, the app's lifespan
shutdown runs. granian is the default server: its HTTP/1.1 parser (hyper) closes a
message carrying both Content-Length and Transfer-Encoding, limits header size and
count with 431 and times out slow header reads, and its RSGI interface is the fastest
way to run an App (BENCHMARKS.md). uvicorn and hypercorn work the same, with the
limits their settings allow (``kit_http.limits``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

import click

from kit_http.app import App
from kit_http.limits import DEFAULT_LIMITS, ServerLimits
from kitcore.service import describe
from kitcore.serving import (
    ListenError,
    check_listen,
    freeze_heap,
    load_target,
    on_signals,
    parse_listen,
)

SERVERS = ("uvicorn", "granian", "granian-asgi", "hypercorn")
"""``granian`` serves an App through RSGI (granian's fast interface), ``granian-asgi`` via ASGI."""


def _is_asgi_function(obj: Any) -> bool:
    return inspect.iscoroutinefunction(obj) and len(inspect.signature(obj).parameters) == 3


def as_app(target: Any, **options: Any) -> Any:
    """The ASGI app for ``target``: an App or ASGI callable as is, a service or endpoint set
    wrapped in an App (with ``options``), a service class instantiated with no arguments,
    a zero-argument factory function called."""
    if isinstance(target, App):
        return target
    if isinstance(target, Mapping):
        return App(target, **options)
    if isinstance(target, type):
        return App(target(), **options)
    if inspect.isfunction(target):
        if _is_asgi_function(target):
            return target
        return as_app(target(), **options)
    if describe(target).methods:
        return App(target, **options)
    if callable(target):
        return target
    raise TypeError(f"cannot serve {target!r}: want a service, an endpoint mapping or an app")


async def serve(
    target: Any,
    url: str = "http://127.0.0.1:8080",
    *,
    server: str = "granian",
    log_level: str = "warning",
    started: Callable[[str, int], None] | None = None,
    limits: ServerLimits = DEFAULT_LIMITS,
    **options: Any,
) -> None:
    """Serve ``target`` at ``url`` until cancelled or signalled, then shut down gracefully.

    ``started(host, port)`` is called once the server listens. ``limits`` bound what a
    client may hold (``kit_http.limits``). ``options`` go to the App when ``target`` is a
    service or an endpoint set.
    """
    app = as_app(target, **options)
    host, port = parse_listen(url)
    if server not in SERVERS:
        raise ValueError(f"unknown server {server!r}: want one of {', '.join(SERVERS)}")
    check_listen(host, port)
    # RSGI gives the path percent-decoded: an App with path parameters (which may hold
    # an encoded "/") is served through granian's ASGI interface instead. So is one that
    # streams: RSGI's send_bytes does not wait for the client (measured: it buffered a
    # whole 128 MB stream a paused client had not read), ASGI's send does.
    streams = isinstance(app, App) and any(b.method.streaming for b in app.bindings)
    if server == "granian" and isinstance(app, App) and not app.router.dynamic and not streams:
        await _granian_rsgi(app, host, port, log_level, started, limits)
        return
    runner = {
        "uvicorn": _uvicorn,
        "granian": _granian,
        "granian-asgi": _granian,
        "hypercorn": _hypercorn,
    }[server]
    await runner(app, host, port, log_level, started, limits)


async def _until_stopped(run: Any, stop: Callable[[], None]) -> None:
    """Await the server task; on cancellation ask it to stop and wait for its clean exit."""
    task = asyncio.ensure_future(run)
    undo = on_signals(stop)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        stop()
        await task
        raise
    finally:
        undo()


async def _notify_when(
    ready: Callable[[], bool], host: str, port: int, started: Callable[[str, int], None] | None
) -> None:
    # The servers expose "started" as a flag, not an event: look at it until it is set.
    while not ready():  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    if started is not None:
        started(host, port)


async def _uvicorn(
    app: Any,
    host: str,
    port: int,
    log_level: str,
    started: Callable[[str, int], None] | None,
    limits: ServerLimits,
) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        backlog=limits.backlog,
        # h11 only: httptools has no header size limit (kit_http.limits.SUPPORT).
        h11_max_incomplete_event_size=limits.max_header_bytes,
    )
    server = uvicorn.Server(config)
    # uvicorn's own signal handlers would replace ours; serve() handles signals itself.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]

    def stop() -> None:
        server.should_exit = True

    notify = asyncio.ensure_future(_notify_when(lambda: server.started, host, port, started))
    try:
        await _until_stopped(server.serve(), stop)
    finally:
        notify.cancel()
        await asyncio.gather(notify, return_exceptions=True)
    if not server.started and not server.should_exit:
        raise OSError(f"uvicorn could not serve on {host}:{port}")


async def _hypercorn(
    app: Any,
    host: str,
    port: int,
    log_level: str,
    started: Callable[[str, int], None] | None,
    limits: ServerLimits,
) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    # hypercorn binds only after the app's start-up: bound and listening here first, the
    # socket queues connections from the moment ``started`` says so.
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    listener = socket.create_server((host, port), family=family, backlog=limits.backlog)
    config = Config()
    config.bind = [f"fd://{os.dup(listener.fileno())}"]  # hypercorn closes its own copy
    config.loglevel = log_level.upper()
    config.accesslog = None
    config.backlog = limits.backlog
    config.h11_max_incomplete_size = limits.max_header_bytes
    # Any read, not only the headers': hypercorn has no header-only timeout.
    config.read_timeout = int(limits.header_timeout) or 1
    # A connection is "idle" from its accept (and after each response) until a whole
    # request head has arrived: this bound closes a header trickled a byte a second,
    # which no per-read timeout catches. Idle keep-alive connections close after it too.
    config.keep_alive_timeout = limits.header_timeout
    stopping = asyncio.Event()
    ready = asyncio.Event()

    async def lifespan_aware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":

            async def sending(message: Any) -> None:
                if message["type"] == "lifespan.startup.complete":
                    ready.set()
                await send(message)

            await app(scope, receive, sending)
        else:
            await app(scope, receive, send)

    async def notify() -> None:
        await ready.wait()
        if started is not None:
            started(host, port)

    waiter = asyncio.ensure_future(notify())
    try:
        run = hypercorn_serve(lifespan_aware, config, shutdown_trigger=stopping.wait)
        await _until_stopped(run, stopping.set)
    finally:
        listener.close()
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)


async def _granian_rsgi(
    app: App,
    host: str,
    port: int,
    log_level: str,
    started: Callable[[str, int], None] | None,
    limits: ServerLimits,
) -> None:
    # The bound __rsgi__ alone: granian would run __rsgi_init__/__rsgi_del__ unawaited in
    # its embedded mode, so the app's start-up and shutdown are awaited here instead.
    await app.startup()
    try:
        await _granian(app.__rsgi__, host, port, log_level, started, limits, rsgi=True)
    finally:
        await app.shutdown()


# granian logs to stdout by default: a program whose stdout carries data (a pipe to a
# parent, a CLI's output) would read "Embedded server is experimental!" in it.
_GRANIAN_LOG_TO_STDERR = {
    "handlers": {
        handler: {
            "formatter": formatter,
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        }
        for handler, formatter in (("console", "generic"), ("access", "access"))
    }
}


async def _granian(
    app: Any,
    host: str,
    port: int,
    log_level: str,
    started: Callable[[str, int], None] | None,
    limits: ServerLimits,
    *,
    rsgi: bool = False,
) -> None:
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server.embed import Server

    server = Server(
        app,
        address=host,
        port=port,
        interface=Interfaces.RSGI if rsgi else Interfaces.ASGI,
        log_level=LogLevels(log_level),
        log_access=False,
        log_dictconfig=_GRANIAN_LOG_TO_STDERR,
        # HTTP/1.1 only: hyper's HTTP/2 settings have no header-read timeout to apply.
        http=HTTPModes.http1,
        websockets=not rsgi,
        backlog=limits.backlog,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(limits.header_timeout * 1000),
            max_buffer_size=limits.max_header_bytes,
        ),
    )

    def listening() -> bool:
        return bool(server.wrks) and all(w.is_alive() for w in server.wrks)  # type: ignore[no-untyped-call]

    notify = asyncio.ensure_future(_notify_when(listening, host, port, started))
    try:
        await _until_stopped(server.serve(), server.stop)
    finally:
        notify.cancel()
        await asyncio.gather(notify, return_exceptions=True)


def run(coro: Any) -> Any:
    """Run ``coro`` on uvloop when it is installed, else on asyncio's loop; return its result."""
    try:
        import uvloop
    except ImportError:
        runner: Callable[[Any], Any] = asyncio.run
    else:
        runner = uvloop.run
    # Outside the except block: run there, every error would carry the ImportError as its
    # context ("during handling of the above exception").
    return runner(coro)


@click.command("serve")
@click.argument("target")
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    help="HOST:PORT, or :PORT for all interfaces.",
)
@click.option(
    "--server",
    type=click.Choice(SERVERS),
    default="granian",
    show_default=True,
    help="The ASGI server to run on.",
)
@click.option("--log-level", default="warning", show_default=True, help="The server's log level.")
@click.option(
    "--transport",
    default="http",
    show_default=True,
    help="Serve with another transport plugin's server instead (grpc: kit-grpc).",
)
def serve_command(target: str, listen: str, server: str, log_level: str, transport: str) -> None:
    """Serve TARGET (module:attr: a service, an endpoint mapping or an ASGI app) over HTTP."""
    obj = load_target(target)
    try:
        parse_listen(listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    if transport != "http":
        _serve_other(transport, obj, target, listen)
        return

    def started(host: str, port: int) -> None:
        freeze_heap()
        click.echo(f"kit-http serving {target} on http://{host}:{port} ({server})", err=True)

    with contextlib.suppress(KeyboardInterrupt):
        try:
            run(serve(obj, listen, server=server, log_level=log_level, started=started))
        except ListenError as exc:
            raise click.ClickException(str(exc.strerror)) from None


def _serve_other(transport: str, obj: Any, target: str, listen: str) -> None:
    """Serve ``obj`` with the ``server`` that the transport plugin ``transport`` registered."""
    from kitcore.plugins import BackendNotFound, plugins

    try:
        serve_with = plugins().backend("transports", transport).meta.get("server")
    except BackendNotFound as exc:
        raise click.BadParameter(str(exc), param_hint="--transport") from exc
    if serve_with is None:
        raise click.BadParameter(f"{transport} has no server", param_hint="--transport")

    def started(host: str, port: int) -> None:
        freeze_heap()
        click.echo(f"kit serving {target} on {transport}://{host}:{port}", err=True)

    with contextlib.suppress(KeyboardInterrupt):
        try:
            run(serve_with(obj, f"{transport}://{listen}", started=started))
        except ListenError as exc:
            raise click.ClickException(str(exc.strerror)) from None
