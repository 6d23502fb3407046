"""The ``/metrics`` endpoint as plain ASGI, for any ASGI server or framework.

``metrics_app(provider)`` answers GET and HEAD with the exposition in the format the
scraper asks for (Prometheus text by default, OpenMetrics when ``Accept`` names it),
gzipped when ``Accept-Encoding`` allows. ``with_metrics(app, provider)`` puts it at
``/metrics`` in front of another ASGI app, such as a kit-http ``App``, in one line.
No dependency on kit-http or any framework: it mounts in Starlette or FastAPI too.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from kit_prometheus.provider import PrometheusProvider
from kitcore.asgi import ASGIApp, Receive, Scope, Send


class MetricsApp:
    """An ASGI app serving the Prometheus exposition of a provider or registry."""

    def __init__(
        self, source: PrometheusProvider | CollectorRegistry, *, compress: bool = True
    ) -> None:
        if isinstance(source, PrometheusProvider):
            self._registry: Callable[[], CollectorRegistry] = source.exposition_registry
        elif isinstance(source, CollectorRegistry):
            self._registry = lambda: source
        else:
            raise TypeError(
                f"metrics_app takes a PrometheusProvider or a CollectorRegistry, not "
                f"{type(source).__name__}"
            )
        self.compress = compress

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection: an HTTP request, lifespan events or a refused websocket."""
        if scope["type"] == "http":
            await self._http(scope, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1003})

    async def _http(self, scope: Scope, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            body = b"method not allowed: use GET\n"
            refusal = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"allow", b"GET, HEAD"),
            ]
            await _respond(send, 405, refusal, body)
            return
        headers = {name.lower(): value for name, value in scope.get("headers", ())}
        accept = headers.get(b"accept", b"").decode("latin-1")
        encoder, content_type = choose_encoder(accept)
        body = encoder(self._registry())
        response_headers = [(b"content-type", content_type.encode("latin-1"))]
        if self.compress and b"gzip" in headers.get(b"accept-encoding", b""):
            body = gzip.compress(body, compresslevel=6)
            response_headers.append((b"content-encoding", b"gzip"))
        response_headers.append((b"content-length", str(len(body)).encode()))
        await _respond(send, 200, response_headers, b"" if method == "HEAD" else body)


def metrics_app(
    source: PrometheusProvider | CollectorRegistry, *, compress: bool = True
) -> MetricsApp:
    """Return an ASGI app serving ``source``'s metrics (mount it at ``/metrics``)."""
    return MetricsApp(source, compress=compress)


def with_metrics(
    app: ASGIApp,
    source: PrometheusProvider | CollectorRegistry,
    *,
    path: str = "/metrics",
    compress: bool = True,
) -> ASGIApp:
    """Return an ASGI app serving the metrics at ``path`` and everything else with ``app``.

    Lifespan and websocket events go to ``app``, so its start-up and shutdown still run::

        server_app = with_metrics(kit_http.App(service), provider)
    """
    metrics = MetricsApp(source, compress=compress)

    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _local_path(scope) == path:
            await metrics(scope, receive, send)
        else:
            await app(scope, receive, send)

    return routed


def _local_path(scope: Scope) -> str:
    # Servers differ on whether scope["path"] includes root_path when mounted.
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
