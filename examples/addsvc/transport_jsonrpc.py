"""The JSON-RPC transport: methods ``sum`` and ``concat``, params ``{"a":..,"b":..}``.

Go kit's JSON-RPC server encodes only ``{"v":..}`` and so answers a business error as a
success (``2147483647 + 1 = 0``); here a business error is a JSON-RPC error
(``-32003``, kit's ``invalid_argument``, with Go kit's text as the message), which Go
kit's own addcli prints as ``error: integer overflow``. Params that do not decode are
Invalid params (-32602) where Go kit uses -32000.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kit_http.client import ClientBefore
from kit_http.jsonrpc import ClientEndpoint, EndpointCodec

from examples.addsvc import wire
from examples.addsvc.endpoints import ConcatResponse, Set, SumResponse, client_set
from kitcore.endpoint import Endpoint, Middleware


def raising(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` with the business error of its response raised, for the server to send
    as a JSON-RPC error; middlewares around the method (kit-otel's span) see it fail."""

    async def method(request: Any) -> SumResponse | ConcatResponse:
        response: SumResponse | ConcatResponse = await endpoint(request)
        if response.err is not None:
            raise response.err
        return response

    return method


def encode_result(response: SumResponse | ConcatResponse) -> bytes:
    """``{"v":..}``."""
    return wire.encode_value(response.v)


def codecs(endpoints: Set) -> dict[str, EndpointCodec]:
    """The methods by name, for ``kit_http.jsonrpc.app`` (Go kit's EndpointCodecMap)."""
    return {
        "sum": EndpointCodec(raising(endpoints.sum_endpoint), wire.decode_sum, encode_result),
        "concat": EndpointCodec(
            raising(endpoints.concat_endpoint), wire.decode_concat, encode_result
        ),
    }


def _value(decode: Callable[[bytes], Any], response: type) -> Callable[[bytes], Any]:
    def from_result(result: bytes) -> Any:
        return response(decode(result))

    return from_result


def new_client(
    instance: str,
    *,
    before: ClientBefore | None = None,
    named_middleware: Callable[[str], Middleware] | None = None,
) -> tuple[Set, Callable[[], Any]]:
    """addcli's JSON-RPC client for ``host:port`` (or a URL), and what closes it.

    ``before`` edits each outgoing request (headers); ``named_middleware(name)`` wraps
    each method's endpoint (``sum``, ``concat``), nearest the transport.
    """
    url = instance if "://" in instance else f"http://{instance}"
    clients = {
        name: ClientEndpoint(
            url, name, wire.encode_request, _value(decode, response), before=before
        )
        for name, decode, response in (
            ("sum", wire.decode_sum_value, SumResponse),
            ("concat", wire.decode_concat_value, ConcatResponse),
        )
    }

    async def close() -> None:
        for client in clients.values():
            await client.close()

    endpoints: dict[str, Endpoint] = dict(clients)
    if named_middleware is not None:
        endpoints = {name: named_middleware(name)(ep) for name, ep in endpoints.items()}
    return client_set(endpoints["sum"], endpoints["concat"]), close
