"""Procedures: what a JSON-RPC method name calls, and how its params and result are coded.

``EndpointCodec`` is Go kit's ``jsonrpc.EndpointCodec``: an Endpoint with a decode
function (the raw ``params`` JSON -> the endpoint's request) and an encode function (the
endpoint's response -> JSON). A typed service method gets one derived from its
signature: params by name (an object) or by position (an array), validated by msgspec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec.structs import asdict

from kit_http.app import wrap
from kit_http.binding import field_spec
from kitcore.endpoint import Endpoint, Middleware
from kitcore.service import Method, describe, endpoint

Decode = Callable[[bytes], Any]
"""Raw params JSON (``b""`` when the request has none) -> the endpoint's request."""

Encode = Callable[[Any], bytes]
"""The endpoint's response -> its JSON (the ``result`` member)."""

_any_decoder = msgspec.json.Decoder()
encode_json: Encode = msgspec.json.Encoder().encode
"""The default encoder: the response as JSON."""


def decode_json(params: bytes) -> Any:
    """The default decoder: params as plain JSON values (None when absent)."""
    return _any_decoder.decode(params) if params else None


@dataclass(frozen=True)
class EndpointCodec:
    """One method: its Endpoint, params decoder and result encoder (Go kit's EndpointCodec)."""

    endpoint: Endpoint
    decode: Decode = decode_json
    encode: Encode = encode_json


def params_decoder(m: Method) -> Decode:
    """Params by name (``{"a": 1}``) or by position (``[1]``) -> ``m``'s request Struct."""
    request_type = m.request_type
    by_name = msgspec.json.Decoder(request_type)
    fields = [field_spec(f) for f in msgspec.structs.fields(request_type)]
    positional_type = msgspec.defstruct(
        f"{request_type.__name__}.Positional",
        fields,
        kw_only=True,
        array_like=True,
        forbid_unknown_fields=True,  # more values than parameters is an error
    )
    by_position = msgspec.json.Decoder(positional_type)

    def decode(params: bytes) -> Any:
        if params[:1] == b"[":
            return request_type(**asdict(by_position.decode(params)))
        return by_name.decode(params or b"{}")

    return decode


def procedures(
    target: object,
    middleware: Middleware | None = None,
    named_middleware: Callable[[str], Middleware] | None = None,
) -> dict[str, EndpointCodec]:
    """The procedures of a typed service instance, or of a mapping of name -> Endpoint or
    EndpointCodec; each endpoint wrapped in the middlewares."""
    found: dict[str, EndpointCodec] = {}
    if isinstance(target, Mapping):
        for name, value in target.items():
            codec = value if isinstance(value, EndpointCodec) else EndpointCodec(value)
            ep = wrap(codec.endpoint, name, middleware, named_middleware)
            found[name] = EndpointCodec(ep, codec.decode, codec.encode)
        return found
    if isinstance(target, type):
        raise TypeError(f"pass an instance of {target.__name__}, not the class")
    spec = describe(target)
    if not spec.methods:
        raise TypeError(f"{type(target).__name__} has no public async methods to serve")
    for name, m in spec.methods.items():
        if m.streaming:
            continue  # JSON-RPC has one reply per call: streams are served on HTTP and gRPC
        ep = wrap(endpoint(target, name), name, middleware, named_middleware)
        found[name] = EndpointCodec(ep, params_decoder(m), encode_json)
    return found
