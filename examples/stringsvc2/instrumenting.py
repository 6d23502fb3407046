"""The instrumenting middleware, and the one function that wires metrics into the app."""

from __future__ import annotations

import time
from typing import Any

from kit_http import App, Response

from examples.stringsvc1.transport import Service
from kitcore.metrics import Counter, Histogram, MemoryProvider


class InstrumentingMiddleware:
    """A StringService recording request counts, latencies and count results."""

    def __init__(
        self,
        request_count: Counter,
        request_latency: Histogram,
        count_result: Histogram,
        next_: Service,
    ) -> None:
        self.request_count = request_count
        self.request_latency = request_latency
        self.count_result = count_result
        self.next = next_

    def _record(self, method: str, begin: float, failed: bool) -> None:
        labels = {"method": method, "error": "true" if failed else "false"}
        self.request_count.with_labels(**labels).add(1)
        micros = (time.perf_counter() - begin) * 1e6
        self.request_latency.with_labels(**labels).observe(micros)

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s``, recording the call."""
        begin, failed = time.perf_counter(), True
        try:
            output = await self.next.uppercase(s)
            failed = False
            return output
        finally:
            self._record("uppercase", begin, failed)

    async def count(self, s: str) -> int:
        """Count the characters of ``s``, recording the call and its result."""
        begin, failed = time.perf_counter(), True
        try:
            n = await self.next.count(s)
            failed = False
            self.count_result.observe(n)
            return n
        finally:
            self._record("count", begin, failed)


def wire_metrics(app: App, svc: Service) -> Service:
    """Create the tutorial's metrics, serve them at ``GET /metrics``, and instrument ``svc``.

    In memory for now (kitcore's MemoryProvider, Prometheus-like text); the kit-prometheus
    plugin will replace this function's provider and route, and nothing else.
    """
    provider = MemoryProvider()
    keys = ("method", "error")
    request_count = provider.counter(
        "my_group_string_service_request_count", "Number of requests received.", keys
    )
    request_latency = provider.histogram(
        "my_group_string_service_request_latency_microseconds",
        "Total duration of requests in microseconds.",
        keys,
    )
    count_result = provider.histogram(
        "my_group_string_service_count_result", "The result of each count method."
    )

    async def metrics(request: Any) -> str:
        return provider.exposition()

    def text(body: str) -> Response:
        return Response(body.encode(), content_type="text/plain; version=0.0.4")

    app.route("GET /metrics", metrics, encode=text)
    return InstrumentingMiddleware(request_count, request_latency, count_result, svc)
