"""addcli: call an addsvc (this one or Go kit's): ``python -m examples.addsvc.cli -http-addr
127.0.0.1:8081 -method sum 1 2``.

Go kit's flags and output: ``-http-addr``, ``-grpc-addr``, ``-jsonrpc-addr`` (the first
one set wins, in that order), ``-method sum|concat``, then two arguments (``--`` before
a negative number); ``1 + 2 = 3`` or ``"a" + "b" = "ab"`` on stdout, ``error: ...`` on
stderr with exit status 1. Where Go kit's prints ``error: 400 Bad Request`` this client
reads the body: ``error: integer overflow``; over gRPC an error status prints its text
alone (``error: rate limit exceeded``, Go kit's: ``error: rpc error: code = ... desc =
...``); and a number that does not parse is an error, not a 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from examples.addsvc import transport_grpc, transport_http, transport_jsonrpc
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
    p.add_argument("a")
    p.add_argument("b")
    return p


def quote(s: str) -> str:
    """Go's ``%q`` for printable text."""
    return json.dumps(s, ensure_ascii=False)


async def call(args: argparse.Namespace) -> str:
    """Make the call the flags ask for; return the line to print."""
    if args.http_addr:
        svc, close = transport_http.new_client(args.http_addr)
    elif args.grpc_addr:
        svc, close = transport_grpc.new_client(args.grpc_addr)
    elif args.jsonrpc_addr:
        svc, close = transport_jsonrpc.new_client(args.jsonrpc_addr)
    else:
        raise ValueError("no remote address specified")
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
    try:
        line = asyncio.run(call(args))
    except (KitError, ValueError) as exc:
        message = exc.message if isinstance(exc, KitError) else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
