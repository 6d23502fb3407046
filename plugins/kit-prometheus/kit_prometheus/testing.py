"""Reading values back from a prometheus-client registry, for tests.

``RegistryReader`` is the ``kitcore.testing.metrics.MetricsReader`` of this backend:
it collects the registry as a scrape would and answers counters, gauges and histogram
quantiles (interpolated within buckets exactly as PromQL's ``histogram_quantile``), so
services can assert on what they exposed::

    await check_provider(PrometheusProvider(registry), RegistryReader(registry))

``call_asgi`` sends one HTTP request through an ASGI app in process, to read what
``/metrics`` serves without starting a server.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.samples import Sample

from kitcore.asgi import ASGIApp


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """Return the ``q``-quantile from cumulative ``(upper_bound, count)`` buckets.

    As PromQL's ``histogram_quantile``: linear interpolation inside the bucket holding
    the rank, the lowest bucket starting at 0 (if its bound is positive), and the upper
    bound of the last finite bucket when the rank falls into +Inf. NaN when empty.
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] == 0:
        return math.nan
    total = ordered[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for index, (bound, count) in enumerate(ordered):
        if count >= rank:
            if math.isinf(bound):
                return ordered[index - 1][0] if index else math.nan
            if index == 0 and bound <= 0:
                return bound
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = bound, count
    return ordered[-1][0]


class RegistryReader:
    """A MetricsReader reading a ``CollectorRegistry`` as a scrape would."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def samples(self, name: str) -> list[Sample]:
        """Return every sample named ``name`` (e.g. ``x_total``, ``x_bucket``) in one collect."""
        return [
            sample
            for family in self.registry.collect()
            for sample in family.samples
            if sample.name == name
        ]

    def value(self, name: str, labels: Mapping[str, str]) -> float:
        """Return the value of the sample ``name`` with exactly ``labels``; KeyError if none."""
        wanted = dict(labels)
        for sample in self.samples(name):
            if sample.labels == wanted:
                return float(sample.value)
        raise KeyError(f"no sample {name}{wanted} in the registry")

    async def counter(self, name: str, labels: Mapping[str, str]) -> float:
        """Return the counter's ``<name>_total`` sample (``name`` given with or without it)."""
        return self.value(name if name.endswith("_total") else name + "_total", labels)

    async def gauge(self, name: str, labels: Mapping[str, str]) -> float:
        """Return the gauge's sample."""
        return self.value(name, labels)

    async def quantiles(
        self, name: str, labels: Mapping[str, str], qs: Sequence[float]
    ) -> list[float]:
        """Return quantiles of the histogram series, interpolated within its buckets."""
        wanted = dict(labels)
        buckets = []
        for sample in self.samples(name + "_bucket"):
            bound = sample.labels.get("le")
            rest = {k: v for k, v in sample.labels.items() if k != "le"}
            if bound is not None and rest == wanted:
                buckets.append((float(bound), float(sample.value)))
        if not buckets:
            raise KeyError(f"no buckets of histogram {name}{wanted} in the registry")
        return [bucket_quantile(q, buckets) for q in qs]


async def call_asgi(
    app: ASGIApp,
    method: str = "GET",
    path: str = "/metrics",
    headers: Mapping[str, str] | None = None,
    *,
    root_path: str = "",
) -> tuple[int, dict[str, str], bytes]:
    """Send one bodiless HTTP request through ``app``: ``(status, headers, body)``."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": root_path,
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    sent: list[Mapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if not sent or sent[0]["type"] != "http.response.start":
        raise AssertionError(f"the app sent no response start: {sent}")
    body = b"".join(m.get("body", b"") for m in sent[1:])
    response_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in sent[0]["headers"]}
    return int(sent[0]["status"]), response_headers, body
