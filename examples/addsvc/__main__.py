"""Run addsvc: ``python -m examples.addsvc -http-addr :8081 -grpc-addr :8082 -jsonrpc-addr :8084``.

Go kit's flags, parsed as Go's ``flag`` package does (one dash, ``-flag value`` or
``-flag=value``), with Go kit's defaults: ``-debug.addr :8080`` (``/metrics``),
``-http-addr :8081``, ``-grpc-addr :8082``, ``-jsonrpc-addr :8084``. ``-unlimited``
gives the limiters a burst of 2^30, as the anchor's ``addsvc-nolimit`` build, for load
tests. An empty address turns a listener off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from typing import Any

from kit_http import App, jsonrpc
from kit_http.serve import run, serve
from kit_prometheus import PrometheusProvider, with_metrics

from examples.addsvc import transport_grpc, transport_http, transport_jsonrpc
from examples.addsvc.endpoints import new_set
from examples.addsvc.service import new_service
from kitcore.log import Logger, caller, timestamp


def parser() -> argparse.ArgumentParser:
    """Go kit's addsvc flags."""
    p = argparse.ArgumentParser(prog="addsvc", prefix_chars="-", allow_abbrev=False)
    p.add_argument(
        "-debug.addr", dest="debug_addr", default=":8080", help="Debug and metrics listen address"
    )
    p.add_argument("-http-addr", dest="http_addr", default=":8081", help="HTTP listen address")
    p.add_argument("-grpc-addr", dest="grpc_addr", default=":8082", help="gRPC listen address")
    p.add_argument(
        "-jsonrpc-addr", dest="jsonrpc_addr", default=":8084", help="JSON RPC listen address"
    )
    p.add_argument(
        "-unlimited", action="store_true", help="limiter bursts of 2^30 (addsvc-nolimit)"
    )
    return p


def build(logger: Logger, provider: PrometheusProvider, unlimited: bool) -> dict[str, Any]:
    """What serves each transport, sharing one endpoint set: the ``HTTP``, ``JSONRPC`` and
    ``debug/HTTP`` apps, and for ``gRPC`` the endpoint set itself."""
    ints = provider.counter("integers_summed", "Total count of integers summed via the Sum method.")
    chars = provider.counter(
        "characters_concatenated", "Total count of characters concatenated via the Concat method."
    )
    duration = provider.summary(
        "request_duration_seconds", "Request duration in seconds.", ("method", "success")
    )
    service = new_service(logger, ints, chars)
    endpoints = new_set(service, logger, duration, unlimited=unlimited)
    return {
        "HTTP": transport_http.make_app(endpoints),
        "gRPC": endpoints,
        "JSONRPC": jsonrpc.app(transport_jsonrpc.codecs(endpoints)),
        "debug/HTTP": with_metrics(App(), provider),
    }


async def serve_all(listeners: dict[str, tuple[Any, str]], logger: Logger) -> None:
    """Serve every app at its address until SIGINT/SIGTERM, then stop them all gracefully."""
    tasks: list[asyncio.Task[None]] = []
    started: set[str] = set()
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for task in tasks:
            task.cancel()

    def ended(task: asyncio.Task[None]) -> None:
        # One listener that cannot serve (its address taken) stops the others.
        if not task.cancelled() and task.exception() is not None:
            stop()

    def listening(name: str, addr: str) -> None:
        logger.log(transport=name, addr=addr)
        started.add(name)
        if len(started) == len(listeners):
            # Each server routes the signals to itself alone; once all listen, one stop
            # for all of them replaces those handlers.
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop)

    for name, (app, addr) in listeners.items():
        started_cb = lambda host, port, n=name, a=addr: listening(n, a)  # noqa: E731
        server = transport_grpc.serve if name == "gRPC" else serve
        tasks.append(asyncio.create_task(server(app, addr, started=started_cb)))
        tasks[-1].add_done_callback(ended)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [
        r
        for r in results
        if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
    ]
    if failures:
        raise failures[0]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse Go kit's flags and serve; returns the exit status."""
    args = parser().parse_args(argv)
    logger = Logger().with_(ts=timestamp, caller=caller)
    apps = build(
        logger, PrometheusProvider(namespace="example", subsystem="addsvc"), args.unlimited
    )
    addrs = {
        "debug/HTTP": args.debug_addr,
        "HTTP": args.http_addr,
        "gRPC": args.grpc_addr,
        "JSONRPC": args.jsonrpc_addr,
    }
    listeners = {name: (apps[name], addr) for name, addr in addrs.items() if addr}
    try:
        run(serve_all(listeners, logger))
    except (OSError, ValueError) as exc:
        logger.log(err=exc)
        return 1
    except KeyboardInterrupt:
        pass
    logger.log(exit="signal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
