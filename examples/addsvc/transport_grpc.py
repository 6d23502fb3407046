"""The gRPC transport: Go kit's ``pb.Add`` service (``pb/addsvc.proto``), server and client.

Go kit style, on kit-grpc's explicit API: each endpoint of the shared set is bound to one
method with decode/encode functions over the generated messages. A business error
travels in the reply's ``err`` field with status OK, as in Go kit (whose addcli prints
``error: integer overflow``); other errors keep kit's status code (RESOURCE_EXHAUSTED
for the limiter, UNAVAILABLE for an open breaker, where Go kit sends UNKNOWN for both)
and its details trailer, and a request that does not parse is INVALID_ARGUMENT (Go kit:
INTERNAL). The client maps Go kit's error texts back to their classes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc  # type: ignore[import-untyped]
from kit_grpc import ClientEndpoint, Server, register
from kit_grpc.client import ClientBefore, channel_options, target_of

from examples.addsvc import pb
from examples.addsvc.endpoints import (
    ConcatRequest,
    ConcatResponse,
    Set,
    SumRequest,
    SumResponse,
    client_set,
)
from examples.addsvc.service import IntOverflow, MaxSizeExceeded, TwoZeroes
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import InvalidArgument, KitError
from kitcore.serving import parse_listen

BUSINESS: dict[str, Callable[[], InvalidArgument]] = {
    cls().message: cls for cls in (TwoZeroes, IntOverflow, MaxSizeExceeded)
}
"""Go kit's error texts, by text: an ``err`` field names its class."""


def err2str(err: KitError | None) -> str:
    """The ``err`` field for a business error: its text, or empty."""
    return "" if err is None else err.message


def str2err(text: str) -> InvalidArgument | None:
    """A reply's ``err`` field as the business error (a text not Go kit's: InvalidArgument)."""
    if not text:
        return None
    known = BUSINESS.get(text)
    return known() if known is not None else InvalidArgument(text)


def decode_sum_request(message: Any) -> SumRequest:
    """``pb.SumRequest`` -> SumRequest."""
    return SumRequest(message.a, message.b)


def decode_concat_request(message: Any) -> ConcatRequest:
    """``pb.ConcatRequest`` -> ConcatRequest."""
    return ConcatRequest(message.a, message.b)


def encode_sum_response(response: SumResponse) -> Any:
    """SumResponse -> ``pb.SumReply``: ``v``, or ``err`` for a business error."""
    return pb.SumReply(v=response.v, err=err2str(response.err))


def encode_concat_response(response: ConcatResponse) -> Any:
    """ConcatResponse -> ``pb.ConcatReply``: ``v``, or ``err`` for a business error."""
    return pb.ConcatReply(v=response.v, err=err2str(response.err))


def register_set(
    server: grpc.aio.Server,
    endpoints: Set,
    *,
    named_middleware: Callable[[str], Middleware] | None = None,
    **options: Any,
) -> None:
    """Serve ``endpoints`` on ``server`` as ``pb.Add``'s Sum and Concat.

    ``options`` are kit-grpc's server options (``before``, ``finalizer``, ...) for both
    methods; ``named_middleware(method)`` wraps each endpoint by its gRPC method name.
    """

    def named(name: str, endpoint: Endpoint) -> Endpoint:
        return endpoint if named_middleware is None else named_middleware(name)(endpoint)

    register(
        server,
        pb.SERVICE,
        {
            "Sum": Server(
                named("Sum", endpoints.sum_endpoint),
                decode_sum_request,
                encode_sum_response,
                pb.SumRequest,
                **options,
            ),
            "Concat": Server(
                named("Concat", endpoints.concat_endpoint),
                decode_concat_request,
                encode_concat_response,
                pb.ConcatRequest,
                **options,
            ),
        },
    )


async def serve(
    endpoints: Set,
    addr: str,
    *,
    started: Callable[[str, int], None] | None = None,
    grace: float = 5.0,
    **options: Any,
) -> None:
    """Serve ``endpoints`` over gRPC at ``addr`` (``HOST:PORT`` or ``:PORT``) until cancelled.

    ``started(host, port)`` is called once it listens; on cancellation calls in flight
    get ``grace`` seconds to finish. ``options`` go to ``register_set``.
    """
    host, port = parse_listen(addr)
    # Without SO_REUSEPORT a taken port is an error, as for Go kit's listeners, not a
    # second server sharing it.
    server = grpc.aio.server(options=[*channel_options(), ("grpc.so_reuseport", 0)])
    register_set(server, endpoints, **options)
    try:
        bound = server.add_insecure_port(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    except RuntimeError:  # grpc's "Failed to bind to address"
        bound = 0
    if bound == 0:
        raise OSError(f"gRPC could not listen on {addr}")
    await server.start()
    try:
        if started is not None:
            started(host, bound)
        await asyncio.Event().wait()
    finally:
        # Shielded: a cancelled serve still drains before it returns.
        await asyncio.shield(server.stop(grace))


def encode_sum_request(request: SumRequest) -> Any:
    """SumRequest -> ``pb.SumRequest``."""
    return pb.SumRequest(a=request.a, b=request.b)


def encode_concat_request(request: ConcatRequest) -> Any:
    """ConcatRequest -> ``pb.ConcatRequest``."""
    return pb.ConcatRequest(a=request.a, b=request.b)


def decode_sum_reply(reply: Any) -> SumResponse:
    """``pb.SumReply`` -> SumResponse, its ``err`` as the business error."""
    return SumResponse(reply.v, str2err(reply.err))


def decode_concat_reply(reply: Any) -> ConcatResponse:
    """``pb.ConcatReply`` -> ConcatResponse, its ``err`` as the business error."""
    return ConcatResponse(reply.v, str2err(reply.err))


def new_client(
    instance: str,
    *,
    before: ClientBefore | None = None,
    named_middleware: Callable[[str], Middleware] | None = None,
) -> tuple[Set, Callable[[], Any]]:
    """addcli's gRPC client for ``host:port``, and what closes it (one channel for both).

    ``before`` adds to each call's metadata; ``named_middleware(method)`` wraps each
    method's endpoint (``Sum``, ``Concat``), nearest the transport. Call it inside the
    running loop: the channel is made at once.
    """
    channel = grpc.aio.insecure_channel(target_of(instance), options=channel_options())
    endpoints: dict[str, Endpoint] = {
        name: ClientEndpoint(channel, f"/{pb.SERVICE}/{name}", encode, decode, reply, before=before)
        for name, encode, decode, reply in (
            ("Sum", encode_sum_request, decode_sum_reply, pb.SumReply),
            ("Concat", encode_concat_request, decode_concat_reply, pb.ConcatReply),
        )
    }
    if named_middleware is not None:
        endpoints = {name: named_middleware(name)(ep) for name, ep in endpoints.items()}

    async def close() -> None:
        await channel.close()

    return client_set(endpoints["Sum"], endpoints["Concat"]), close
