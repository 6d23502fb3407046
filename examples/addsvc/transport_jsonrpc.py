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

from kit_http.jsonrpc import ClientEndpoint, EndpointCodec

from examples.addsvc import wire
from examples.addsvc.endpoints import ConcatResponse, Set, SumResponse, client_set


def encode_result(response: SumResponse | ConcatResponse) -> bytes:
    """``{"v":..}``; a business error is raised, for the server to send as a JSON-RPC error."""
    if response.err is not None:
        raise response.err
    return wire.encode_value(response.v)


def codecs(endpoints: Set) -> dict[str, EndpointCodec]:
    """The methods by name, for ``kit_http.jsonrpc.app`` (Go kit's EndpointCodecMap)."""
    return {
        "sum": EndpointCodec(endpoints.sum_endpoint, wire.decode_sum, encode_result),
        "concat": EndpointCodec(endpoints.concat_endpoint, wire.decode_concat, encode_result),
    }


def _value(decode: Callable[[bytes], Any], response: type) -> Callable[[bytes], Any]:
    def from_result(result: bytes) -> Any:
        return response(decode(result))

    return from_result


def new_client(instance: str) -> tuple[Set, Callable[[], Any]]:
    """addcli's JSON-RPC client for ``host:port`` (or a URL), and what closes it."""
    url = instance if "://" in instance else f"http://{instance}"
    sum_client = ClientEndpoint(
        url, "sum", wire.encode_request, _value(wire.decode_sum_value, SumResponse)
    )
    concat_client = ClientEndpoint(
        url, "concat", wire.encode_request, _value(wire.decode_concat_value, ConcatResponse)
    )

    async def close() -> None:
        await sum_client.close()
        await concat_client.close()

    return client_set(sum_client, concat_client), close
