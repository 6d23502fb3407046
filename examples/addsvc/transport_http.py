"""The HTTP transport: Go kit's ``POST /sum`` and ``POST /concat`` wire form, server and client.

Requests are ``{"a":..,"b":..}`` (any letter case), answers ``{"v":..}`` and a newline.
A business error is 400 ``{"error": "integer overflow"}`` as in Go kit; other errors
keep kit's status (429 rate limit, 503 open breaker, 400 bad JSON, where Go kit answers
500 to all three). Every error body also carries kit's ``code``, ``message`` and
``details``, so a kit client raises the typed error; Go kit's client reads only the status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from kit_http import App, Request, Response
from kit_http.client import ClientBefore, ClientEndpoint, Reply
from kit_http.options import wire_error

from examples.addsvc import wire
from examples.addsvc.endpoints import ConcatResponse, Set, SumResponse, client_set
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import KitError, from_http_status, from_wire

CONTENT_TYPE = "application/json; charset=utf-8"
_encode = msgspec.json.Encoder().encode
_error_body = msgspec.json.Decoder(dict[str, Any])


def _error_response(error: KitError, status: int) -> Response:
    body = _encode({"error": error.message, **error.to_wire()}) + b"\n"
    return Response(body, status, content_type=CONTENT_TYPE)


def error_encoder(request: Request, error: BaseException) -> Response:
    """Any error not in the response: kit's status, ``{"error": text}`` plus kit's fields."""
    kit = wire_error(error)
    return _error_response(kit, kit.http_status)


def encode_response(response: SumResponse | ConcatResponse) -> Response:
    """``{"v":..}`` and a newline, or 400 with the business error."""
    if response.err is not None:
        return _error_response(response.err, 400)
    return Response(wire.encode_value(response.v) + b"\n", content_type=CONTENT_TYPE)


def make_app(
    endpoints: Set,
    app: App | None = None,
    *,
    named_middleware: Callable[[str], Middleware] | None = None,
    **options: Any,
) -> App:
    """Route ``POST /sum`` and ``POST /concat`` to ``endpoints`` (on ``app`` or a new App).

    ``named_middleware(name)`` wraps each endpoint, by its route's name (``sum``), as
    kit-http does for a typed service's methods; ``options`` are the new App's server
    options (``before``, ``finalizer``, ...): together, what kit-otel's
    ``Tracing.http_server()`` gives.
    """
    if app is None:
        app = App(error_encoder=error_encoder, **options)
    elif options:
        raise TypeError("server options are for a new App; give them to yours")
    for name, endpoint, decode in (
        ("sum", endpoints.sum_endpoint, wire.decode_sum),
        ("concat", endpoints.concat_endpoint, wire.decode_concat),
    ):
        if named_middleware is not None:
            endpoint = named_middleware(name)(endpoint)
        app.route(
            f"POST /{name}",
            endpoint,
            decode=_body(decode),
            encode=encode_response,
            error_encoder=error_encoder,
        )
    return app


def _body(decode: Callable[[bytes], Any]) -> Callable[[Request], Any]:
    def from_request(request: Request) -> Any:
        return decode(request.body)

    return from_request


def raise_for_status(reply: Reply) -> None:
    """A non-2xx reply raised as its typed error: kit's fields, else Go kit's ``error`` text."""
    if 200 <= reply.status < 300:
        return
    try:
        body = _error_body.decode(reply.body)
    except (msgspec.MsgspecError, UnicodeDecodeError):
        body = {}
    if isinstance(body.get("code"), str):
        raise from_wire(body)
    text = body.get("error")
    raise from_http_status(reply.status, text if isinstance(text, str) else "")


def _value(decode: Callable[[bytes], Any], response: type) -> Callable[[Reply], Any]:
    def from_reply(reply: Reply) -> Any:
        return response(decode(reply.body))

    return from_reply


def new_client(
    instance: str,
    *,
    before: ClientBefore | None = None,
    named_middleware: Callable[[str], Middleware] | None = None,
) -> tuple[Set, Callable[[], Any]]:
    """addcli's HTTP client for ``host:port`` (or a URL), and what closes it.

    ``before`` edits each outgoing request (headers); ``named_middleware(name)`` wraps
    each method's endpoint (``sum``, ``concat``), nearest the transport.
    """
    base = (instance if "://" in instance else f"http://{instance}").rstrip("/")
    clients = {
        name: ClientEndpoint(
            "POST",
            f"{base}/{name}",
            wire.encode_request,
            _value(decode, response),
            before=before,
            after=raise_for_status,
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
