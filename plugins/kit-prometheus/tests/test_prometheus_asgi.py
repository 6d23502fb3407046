"""The /metrics ASGI app and with_metrics, driven through the ASGI protocol itself."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from kit_prometheus import PrometheusProvider, metrics_app, with_metrics
from kit_prometheus.testing import call_asgi as call
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families


def provider_with_data() -> PrometheusProvider:
    provider = PrometheusProvider()
    provider.counter("hits_total", "Hits.", ("path",)).with_labels(path="/a").add(3)
    provider.histogram("work_seconds", "Work.", buckets=(0.1, 1)).observe(0.5)
    return provider


async def test_text_exposition_by_default() -> None:
    status, headers, body = await call(metrics_app(provider_with_data()))
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    assert int(headers["content-length"]) == len(body)
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert families["hits"].samples[0].labels == {"path": "/a"}
    assert families["hits"].samples[0].value == 3
    buckets = [s for s in families["work_seconds"].samples if s.name == "work_seconds_bucket"]
    assert [(s.labels["le"], s.value) for s in buckets] == [("0.1", 0), ("1.0", 1), ("+Inf", 1)]


async def test_openmetrics_by_content_negotiation() -> None:
    accept = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )  # what Prometheus 2.x sends
    status, headers, body = await call(
        metrics_app(provider_with_data()), headers={"Accept": accept}
    )
    assert status == 200
    assert headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith(b"# EOF\n")
    assert b'hits_total{path="/a"} 3.0' in body


async def test_gzip_when_accepted_and_not_when_disabled() -> None:
    provider = provider_with_data()
    _, headers, body = await call(metrics_app(provider), headers={"Accept-Encoding": "gzip"})
    assert headers["content-encoding"] == "gzip"
    assert b'hits_total{path="/a"} 3.0' in gzip.decompress(body)
    plain_app = metrics_app(provider, compress=False)
    _, headers, body = await call(plain_app, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in headers and b"hits_total" in body


async def test_head_has_no_body_and_post_is_refused() -> None:
    app = metrics_app(provider_with_data())
    status, headers, body = await call(app, "HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    status, headers, _ = await call(app, "POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"


async def test_a_registry_is_served_as_is() -> None:
    registry = CollectorRegistry()
    PrometheusProvider(registry).gauge("depth").set(7)
    _, _, body = await call(metrics_app(registry))
    assert b"depth 7.0" in body


def test_anything_else_is_refused() -> None:
    with pytest.raises(TypeError, match="PrometheusProvider or a CollectorRegistry"):
        metrics_app("prometheus")  # type: ignore[arg-type]


async def test_lifespan_is_answered() -> None:
    events = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await metrics_app(PrometheusProvider())({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


class Inner:
    """An ASGI app recording what reached it."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(scope["type"] + " " + scope.get("path", ""))
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})


async def test_with_metrics_serves_the_path_and_passes_the_rest() -> None:
    inner = Inner()
    app = with_metrics(inner, provider_with_data())
    status, _, body = await call(app, path="/metrics")
    assert status == 200 and b"hits_total" in body
    status, _, _ = await call(app, path="/uppercase", method="POST")
    assert status == 204
    status, _, _ = await call(app, path="/metrics/extra")
    assert status == 204

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.shutdown"}

    async def send(message: Any) -> None:
        pass

    await app({"type": "lifespan"}, receive, send)
    assert inner.scopes == ["http /uppercase", "http /metrics/extra", "lifespan "]


async def test_with_metrics_under_a_root_path_and_a_custom_path() -> None:
    inner = Inner()
    app = with_metrics(inner, provider_with_data(), path="/-/metrics")
    status, _, body = await call(app, path="/svc/-/metrics", root_path="/svc")
    assert status == 200 and b"hits_total" in body
    status, _, _ = await call(app, path="/metrics")
    assert status == 204
