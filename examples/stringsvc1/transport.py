"""The HTTP transport, Go kit style: request/response types, endpoints, decoders, encoders."""

from __future__ import annotations

from typing import Any, Protocol

import msgspec
from kit_http import App, Request

from kitcore.codec import decode, encode
from kitcore.endpoint import Endpoint
from kitcore.errors import KitError


class Service(Protocol):
    """What the transport needs of a string service (the real one or a middleware)."""

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s``."""
        ...

    async def count(self, s: str) -> int:
        """Count the characters of ``s``."""
        ...


class UppercaseRequest(msgspec.Struct):
    """``{"s": ...}``"""

    s: str


class UppercaseResponse(msgspec.Struct, omit_defaults=True):
    """``{"v": ..., "err": ...}``; ``err`` is left out when there is none."""

    v: str
    err: str | None = None


class CountRequest(msgspec.Struct):
    """``{"s": ...}``"""

    s: str


class CountResponse(msgspec.Struct):
    """``{"v": ...}``"""

    v: int


def make_uppercase_endpoint(svc: Service) -> Endpoint:
    """The uppercase endpoint: business errors travel in the response, as in the tutorial."""

    async def endpoint(request: UppercaseRequest) -> UppercaseResponse:
        try:
            v = await svc.uppercase(request.s)
        except KitError as exc:
            return UppercaseResponse(v="", err=exc.message)
        return UppercaseResponse(v=v)

    return endpoint


def make_count_endpoint(svc: Service) -> Endpoint:
    """The count endpoint."""

    async def endpoint(request: CountRequest) -> CountResponse:
        return CountResponse(v=await svc.count(request.s))

    return endpoint


def decode_uppercase_request(request: Request) -> UppercaseRequest:
    """Decode the JSON body; a malformed one is a 400 naming the field."""
    return decode(request.body, UppercaseRequest)  # type: ignore[no-any-return]


def decode_count_request(request: Request) -> CountRequest:
    """Decode the JSON body; a malformed one is a 400 naming the field."""
    return decode(request.body, CountRequest)  # type: ignore[no-any-return]


def encode_response(response: Any) -> bytes:
    """Encode any response as JSON."""
    return encode(response)


def make_app(svc: Service, app: App | None = None) -> App:
    """Route ``POST /uppercase`` and ``POST /count`` to ``svc``, on ``app`` or a new App."""
    app = app if app is not None else App()
    app.route(
        "POST /uppercase",
        make_uppercase_endpoint(svc),
        decode=decode_uppercase_request,
        encode=encode_response,
        request_type=UppercaseRequest,
        name="uppercase",
    )
    app.route(
        "POST /count",
        make_count_endpoint(svc),
        decode=decode_count_request,
        encode=encode_response,
        request_type=CountRequest,
        name="count",
    )
    return app
