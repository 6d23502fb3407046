"""addcli: call an addsvc (this one or Go kit's): ``python -m examples.addsvc.cli -http-addr
127.0.0.1:8081 -method sum 1 2``.

Go kit's flags and output: ``-http-addr``, ``-grpc-addr``, ``-jsonrpc-addr`` (the first
one set wins, in that order), ``-method sum|concat``, then two arguments (``--`` before
a negative number); ``1 + 2 = 3`` or ``"a" + "b" = "ab"`` on stdout, ``error: ...`` on
stderr with exit status 1. Where Go kit's prints ``error: 400 Bad Request`` this client
reads the body: ``error: integer overflow``; over gRPC an error status prints its text
alone (``error: rate limit exceeded``, Go kit's: ``error: rpc error: code = ... desc =
...``); and a number that does not parse is an error, not a 0.

``-trace URL`` (as addsvc's) makes the call a CLIENT span whose context goes with the
request, so a traced addsvc's span is its child, in the same trace; ``console`` prints
the span on stdout before the result line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from kit_otel import Tracing

from examples.addsvc import transport_grpc, transport_http, transport_jsonrpc
from examples.addsvc.tracing import client_options
from kitcore.errors import KitError


def parser() -> argparse.ArgumentParser:
    """Go kit's addcli flags."""
    p = argparse.ArgumentParser(prog="addcli", allow_abbrev=False)
    p.add_argument("-http-addr", dest="http_addr", default="", help="HTTP address of addsvc")
    p.add_argument("-grpc-addr", dest="grpc_addr", default="", help="gRPC address of addsvc")
    p.add_argument(
        "-jsonrpc-addr", dest="jsonrpc_addr", default="", help="JSON RPC address of addsvc"
    )
    p.add_argument("-method", default="sum", help="sum, concat")
    p.add_argument(
        "-trace", default="", help="Trace to this URL: console, otlp://h:4317, zipkin://h:9411/..."
    )
    p.add_argument("a")
    p.add_argument("b")
    return p


def quote(s: str) -> str:
    """Go's ``%q`` for printable text."""
    return json.dumps(s, ensure_ascii=False)


async def call(args: argparse.Namespace, tracing: Tracing | None = None) -> str:
    """Make the call the flags ask for (traced by ``tracing``); return the line to print."""
    chosen = [
        (transport, instance, module)
        for transport, instance, module in (
            ("http", args.http_addr, transport_http),
            ("grpc", args.grpc_addr, transport_grpc),
            ("jsonrpc", args.jsonrpc_addr, transport_jsonrpc),
        )
        if instance
    ]
    if not chosen:
        raise ValueError("no remote address specified")
    transport, instance, module = chosen[0]
    options = {} if tracing is None else client_options(tracing, transport, instance)
    svc, close = module.new_client(instance, **options)
    try:
        if args.method == "sum":
            try:
                a, b = int(args.a), int(args.b)
            except ValueError:
                raise ValueError(f"invalid integers {args.a!r} {args.b!r}") from None
            return f"{a} + {b} = {await svc.sum(a, b)}"
        if args.method == "concat":
            v = await svc.concat(args.a, args.b)
            return f"{quote(args.a)} + {quote(args.b)} = {quote(v)}"
        raise ValueError(f"invalid method {quote(args.method)}")
    finally:
        await close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run addcli; returns the exit status."""
    args = parser().parse_args(argv)
    tracing = None
    try:
        if args.trace:
            tracing = Tracing.from_url(args.trace, resource={"service.name": "addcli"})
        line = asyncio.run(call(args, tracing))
    except (KitError, ValueError) as exc:
        message = exc.message if isinstance(exc, KitError) else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1
    finally:
        if tracing is not None:
            tracing.close()  # the call's span is exported before the process ends
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
