"""The ``kit_register_tracing`` object for OpenTracing: one Tracer and its kit middlewares."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import opentracing  # type: ignore[import-untyped]

from kit_opentracing import carrier
from kit_opentracing.middleware import trace_client, trace_server
from kitcore.endpoint import Middleware


class OpenTracing:
    """kit's tracer contract over an OpenTracing ``Tracer`` (the global one by default)."""

    def __init__(self, tracer: Any = None) -> None:
        self.tracer = tracer if tracer is not None else opentracing.global_tracer()

    @classmethod
    def from_url(cls, url: str = "opentracing", *, tracer: Any = None) -> OpenTracing:
        """``opentracing``: the global tracer, or the ``tracer=`` given."""
        parts = urllib.parse.urlsplit(url if "://" in url else url + "://")
        if parts.scheme != "opentracing" or parts.netloc or parts.path or parts.query:
            raise ValueError(f"not an opentracing URL: {url!r}; use 'opentracing'")
        return cls(tracer)

    def middleware(self, name: str) -> Middleware:
        """Go kit's TraceServer for endpoint ``name``."""
        return trace_server(self.tracer, name)

    def server_middleware(
        self,
        method: str,
        *,
        system: str,
        service: str | None = None,
        metadata: Callable[[], Mapping[str, str] | None] | None = None,
    ) -> Middleware:
        """TraceServer named ``service/method``, parent from ``metadata()``."""
        name = f"{service}/{method}" if service else method
        return trace_server(self.tracer, name, metadata=metadata)

    def client_middleware(
        self, method: str, *, system: str, service: str | None = None
    ) -> Middleware:
        """TraceClient named ``service/method``."""
        return trace_client(self.tracer, f"{service}/{method}" if service else method)

    def inject(self, metadata: MutableMapping[str, str]) -> None:
        """Write the current span's context into outgoing ``metadata``."""
        carrier.inject_metadata(self.tracer, metadata)

    def extract(self, metadata: Mapping[str, str] | None) -> Any:
        """The caller's span context in ``metadata``, or None."""
        return carrier.extract_metadata(self.tracer, metadata)

    def close(self) -> None:
        """Close the tracer when it can be closed (the OpenTracing API has no close)."""
        close = getattr(self.tracer, "close", None)
        if callable(close):
            close()
