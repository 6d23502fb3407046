"""Run addsvc: ``python -m examples.addsvc -http-addr :8081 -grpc-addr :8082 -jsonrpc-addr :8084``.

Go kit's flags, parsed as Go's ``flag`` package does (one dash, ``-flag value`` or
``-flag=value``), with Go kit's defaults: ``-debug.addr :8080`` (``/metrics``),
``-http-addr :8081``, ``-grpc-addr :8082``, ``-jsonrpc-addr :8084``. ``-unlimited``
gives the limiters a burst of 2^30, as the anchor's ``addsvc-nolimit`` build, for load
tests. An empty address turns a listener off. ``-trace URL`` (``console``,
``otlp://host:4317``, ``otlp+http://host:4318``, ``zipkin://host:9411/api/v2/spans``)
traces every call on the three transports with kit-otel and puts ``trace_id`` and
``span_id`` on the log lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import signal
import sys
from collections.abc import Sequence
from typing import Any

from kit_http import App, jsonrpc
from kit_http.serve import run, serve
from kit_otel import Tracing, correlated
from kit_prometheus import PrometheusProvider, with_metrics

from examples.addsvc import pb, transport_grpc, transport_http, transport_jsonrpc
from examples.addsvc.endpoints import SERVICE, new_set
from examples.addsvc.service import new_service
from kitcore.log import Logger, caller, timestamp
from kitcore.serving import check_listen, parse_listen


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
    p.add_argument(
        "-trace", default="", help="Trace to this URL: console, otlp://h:4317, zipkin://h:9411/..."
    )
    return p


def build(
    logger: Logger,
    provider: PrometheusProvider,
    unlimited: bool,
    tracing: Tracing | None = None,
    grpc_addr: str = "",
) -> dict[str, Any]:
    """What serves each transport, sharing one endpoint set: the ``HTTP``, ``JSONRPC`` and
    ``debug/HTTP`` apps, and for ``gRPC`` a function of its address and ``started``.

    With ``tracing``, kit-otel's server options trace each call on the three transports
    (the gRPC spans name ``grpc_addr`` as the server's address).
    """
    ints = provider.counter("integers_summed", "Total count of integers summed via the Sum method.")
    chars = provider.counter(
        "characters_concatenated", "Total count of characters concatenated via the Concat method."
    )
    duration = provider.summary(
        "request_duration_seconds", "Request duration in seconds.", ("method", "success")
    )
    service = new_service(logger, ints, chars)
    endpoints = new_set(service, logger, duration, unlimited=unlimited)
    http: dict[str, Any] = {}
    grpc: dict[str, Any] = {}
    rpc: dict[str, Any] = {}
    if tracing is not None:
        http = tracing.http_server(service_name=SERVICE)
        address = "{}:{}".format(*parse_listen(grpc_addr)) if grpc_addr else None
        grpc = tracing.grpc_server(service_name=pb.SERVICE, address=address)
        rpc = tracing.jsonrpc_server(service_name=SERVICE)
    return {
        "HTTP": transport_http.make_app(endpoints, **http),
        "gRPC": functools.partial(transport_grpc.serve, endpoints, **grpc),
        "JSONRPC": jsonrpc.app(transport_jsonrpc.codecs(endpoints), **rpc),
        "debug/HTTP": with_metrics(App(), provider),
    }


async def serve_all(listeners: dict[str, tuple[Any, str]], logger: Logger) -> None:
    """Serve every app at its address until SIGINT/SIGTERM, then stop them all gracefully."""
    tasks: list[asyncio.Task[None]] = []
    stopped = False
    started: set[str] = set()
    loop = asyncio.get_running_loop()

    def stop() -> None:
        nonlocal stopped
        if stopped:  # once: a second cancel would cut a server's graceful shutdown short
            return
        stopped = True
        for task in tasks:
            task.cancel()

    def ended(task: asyncio.Task[None]) -> None:
        # One listener that stops stops the others: its address was taken, or a SIGTERM
        # came before all of them listened and reached only the one whose handler was
        # installed then (the rest would serve on, unstoppable but by SIGKILL).
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
        server = app if name == "gRPC" else functools.partial(serve, app)
        tasks.append(asyncio.create_task(server(addr, started=started_cb)))
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
    addrs = {
        "debug/HTTP": args.debug_addr,
        "HTTP": args.http_addr,
        "gRPC": args.grpc_addr,
        "JSONRPC": args.jsonrpc_addr,
    }
    tracing = None
    try:
        if args.trace:
            tracing = Tracing.from_url(args.trace, resource={"service.name": "addsvc"})
            logger = correlated(logger)
        provider = PrometheusProvider(namespace="example", subsystem="addsvc")
        apps = build(logger, provider, args.unlimited, tracing, args.grpc_addr)
        listeners = {name: (apps[name], addr) for name, addr in addrs.items() if addr}
        for _, addr in listeners.values():
            # Before any server starts: one cancelled mid-start logs granian's own errors.
            check_listen(*parse_listen(addr))
        run(serve_all(listeners, logger))
    except (OSError, ValueError) as exc:
        logger.log(err=exc)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        if tracing is not None:
            tracing.close()  # every call has ended: flush their spans
    logger.log(exit="signal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
