"""End to end: a real Prometheus scrapes a running ASGI app counting with kit-prometheus."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kit_prometheus import PrometheusProvider, with_metrics

from kitcore.asgi import ASGIApp
from kitcore.metrics import Counter
from kitcore.testing.servers import prometheus_server
from kitcore.testing.services import unavailable


def counting_app(requests: Counter) -> ASGIApp:
    """A tiny ASGI app answering every path, counting requests by path."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        requests.with_labels(path=scope["path"]).add()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello\n"})

    return app


def recording_content_types(app: ASGIApp, seen: list[str]) -> ASGIApp:
    """Wrap ``app``, appending the content type of every response it starts to ``seen``."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message["headers"])
                seen.append(headers.get(b"content-type", b"").decode())
            await send(message)

        await app(scope, receive, watch)

    return wrapped


@contextmanager
def served(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free port; yield ``host:port``."""
    try:
        import uvicorn
    except ImportError:
        unavailable("uvicorn is not installed")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive()


def test_prometheus_scrapes_the_count_the_test_produced() -> None:
    provider = PrometheusProvider()
    requests = provider.counter("e2e_requests_total", "Requests by path.", ("path",))
    content_types: list[str] = []
    app = recording_content_types(with_metrics(counting_app(requests), provider), content_types)
    with served(app) as target:
        for path in ["/hello"] * 7 + ["/other"] * 2:
            with urllib.request.urlopen(f"http://{target}{path}", timeout=5) as response:
                assert response.status == 200
        with prometheus_server([target], scrape_interval="1s") as prometheus:
            result = prometheus.wait_query('e2e_requests_total{path="/hello"}')
            assert len(result) == 1
            assert result[0]["metric"]["instance"] == target
            assert float(result[0]["value"][1]) == 7
            other = prometheus.query('e2e_requests_total{path="/other"}')
            assert [float(r["value"][1]) for r in other] == [2]
            # The scrape itself went through the ASGI app and was healthy.
            up = prometheus.query(f'up{{instance="{target}"}}')
            assert [float(r["value"][1]) for r in up] == [1]
    # Prometheus asked for OpenMetrics and got it (the 9 counted requests got no type).
    assert content_types[:9] == [""] * 9
    assert content_types[9].startswith("application/openmetrics-text")
