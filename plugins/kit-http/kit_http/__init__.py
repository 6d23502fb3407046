"""kit-http: kit's JSON-over-HTTP transport, a pure ASGI server and a pooled aiohttp client.

Serve a typed service, an endpoint set or explicit Go kit style routes with ``App`` (on
uvicorn, granian or hypercorn, or mounted in Starlette/FastAPI); call them with
``kitcore.client(Service, "http://host:port")`` or the explicit ``client_endpoint``.
"""

from __future__ import annotations

from kit_http.app import App
from kit_http.handler import TIMEOUT_HEADER, Decode, Encode
from kit_http.message import Request, Response
from kit_http.options import ServerOptions, default_error_encoder

__all__ = [
    "TIMEOUT_HEADER",
    "App",
    "Decode",
    "Encode",
    "Request",
    "Response",
    "ServerOptions",
    "default_error_encoder",
]
