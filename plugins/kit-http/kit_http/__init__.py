"""kit-http: kit's JSON-over-HTTP transport, a pure ASGI server and a pooled aiohttp client.

Serve a typed service, an endpoint set or explicit Go kit style routes with ``App`` (on
uvicorn, granian or hypercorn, or mounted in Starlette/FastAPI); call them with
``kitcore.connect(Service, "http://host:port")`` or the explicit ``client_endpoint``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "App": "kit_http.app",
        "TIMEOUT_HEADER": "kit_http.handler",
        "Decode": "kit_http.handler",
        "Encode": "kit_http.handler",
        "Request": "kit_http.message",
        "Response": "kit_http.message",
        "ServerOptions": "kit_http.options",
        "default_error_encoder": "kit_http.options",
    },
)
