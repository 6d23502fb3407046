"""The apps the HTTP benchmarks serve: the same uppercase work written four ways.

Each decodes ``{"s": ...}`` with a typed msgspec decoder (validation included), answers
the upper-cased string as JSON, and answers a 400 JSON error for an empty string:

- ``kit``: a kit service served by ``kit_http.App``;
- ``bare``: a hand-written ASGI callable doing the same work with nothing else;
- ``bare_rsgi``: the same for granian's RSGI interface (``kit`` speaks both);
- ``fastapi``: the same endpoint in FastAPI with a pydantic model, as FastAPI users write it;
- ``starlette``: a Starlette route (for reference).

Served with e.g. ``uvicorn bench.http_apps:kit`` from the repo root.
"""

from __future__ import annotations

from typing import Any

import msgspec
from kit_http import App

from kitcore import InvalidArgument


class StringService:
    """The Go kit tutorial's string service."""

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s``."""
        if not s:
            raise InvalidArgument("Empty string")
        return s.upper()


kit = App(StringService())


class _Uppercase(msgspec.Struct):
    s: str


_decode = msgspec.json.Decoder(_Uppercase).decode
_encode = msgspec.json.Encoder().encode
_JSON = (b"content-type", b"application/json")
_EMPTY = _encode({"code": "invalid_argument", "message": "Empty string", "details": {}})


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The same work as ``kit`` with no framework: decode, upper-case, encode, send."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        return
    message = await receive()
    body = message.get("body", b"")
    while message.get("more_body"):
        message = await receive()
        body += message.get("body", b"")
    try:
        request = _decode(body)
    except msgspec.ValidationError as exc:
        status, out = 400, _encode({"code": "invalid_argument", "message": str(exc)})
    else:
        if request.s:
            status, out = 200, _encode(request.s.upper())
        else:
            status, out = 400, _EMPTY
    headers = [_JSON, (b"content-length", b"%d" % len(out))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": out})


_RSGI_JSON = [("content-type", "application/json")]
_EMPTY_TEXT = _EMPTY.decode()


async def bare_rsgi(scope: Any, protocol: Any) -> None:
    """``bare`` for granian's RSGI interface: the same work with nothing else."""
    try:
        request = _decode(await protocol())
    except msgspec.ValidationError as exc:
        out = _encode({"code": "invalid_argument", "message": str(exc)})
        protocol.response_bytes(400, _RSGI_JSON, out)
        return
    if request.s:
        protocol.response_bytes(200, _RSGI_JSON, _encode(request.s.upper()))
    else:
        protocol.response_str(400, _RSGI_JSON, _EMPTY_TEXT)


def _fastapi() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel

    app = FastAPI()

    class UppercaseRequest(BaseModel):
        s: str

    async def uppercase(request: UppercaseRequest) -> Any:
        if not request.s:
            return JSONResponse(
                {"code": "invalid_argument", "message": "Empty string", "details": {}},
                status_code=400,
            )
        return request.s.upper()

    # This module's string annotations cannot see the local model: give FastAPI the class.
    uppercase.__annotations__ = {"request": UppercaseRequest, "return": Any}
    app.post("/uppercase")(uppercase)
    return app


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def uppercase(request: Request) -> Response:
        try:
            req = _decode(await request.body())
        except msgspec.ValidationError as exc:
            return Response(_encode({"message": str(exc)}), 400, media_type="application/json")
        if not req.s:
            return Response(_EMPTY, 400, media_type="application/json")
        return Response(_encode(req.s.upper()), media_type="application/json")

    return Starlette(routes=[Route("/uppercase", uppercase, methods=["POST"])])


# Real module attributes: hypercorn and granian look apps up without __getattr__.
fastapi = _fastapi()
starlette = _starlette()
