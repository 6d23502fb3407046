"""Go kit's explicit style: one Endpoint bound to one gRPC method by your own functions.

``Server(endpoint, decode, encode, request_type)`` is Go kit's ``grpctransport.NewServer``:
``decode(message) -> request`` turns the protobuf request (of ``request_type``, any
generated or runtime message class) into the endpoint's request, ``encode(response) ->
message`` turns the endpoint's answer into the protobuf reply. Options are those of
``kit_grpc.options``. ``register(grpc_server, "pkg.Service", {"Method": Server(...)})``
adds them to any ``grpc.aio.Server`` as generic handlers: no generated servicer class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError, Message  # type: ignore[import-untyped]

from kit_grpc import handler
from kit_grpc.options import ServerOptions
from kitcore.endpoint import Endpoint
from kitcore.errors import InvalidArgument


class Server(handler.Handler):
    """One endpoint served as one gRPC method, with explicit decode and encode functions."""

    def __init__(
        self,
        endpoint: Endpoint,
        decode: Callable[[Any], Any],
        encode: Callable[[Any], Message],
        request_type: type[Message],
        **options: Any,
    ) -> None:
        parse = request_type.FromString
        name = request_type.DESCRIPTOR.full_name

        def decode_bytes(data: bytes) -> Any:
            try:
                message = parse(data)
            except DecodeError as exc:
                raise InvalidArgument(
                    f"invalid request: malformed {name} message: {exc}",
                    details={"reason": "malformed protobuf"},
                ) from None
            return decode(message)

        def encode_bytes(response: Any) -> bytes:
            return encode(response).SerializeToString()  # type: ignore[no-any-return]

        super().__init__(endpoint, decode_bytes, encode_bytes, ServerOptions.build(**options))


def register(server: grpc.aio.Server, service: str, methods: Mapping[str, Server]) -> None:
    """Add ``methods`` (gRPC method name -> Server) to ``server`` as the service ``service``."""
    handler.register(server, service, dict(methods))
