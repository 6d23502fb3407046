"""The instrumenting middleware, and the one function that wires metrics into the app."""

from __future__ import annotations

import time

from kit_http import App
from kit_prometheus import PrometheusProvider, with_metrics

from examples.stringsvc1.transport import Service
from examples.stringsvc2.rejections import rejections
from kitcore.asgi import ASGIApp
from kitcore.log import Logger
from kitcore.metrics import Counter, Histogram


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
        # Go kit's stringsvc2 labels error with fmt.Sprint(err != nil): "true" or "false".
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


def string_service_metrics() -> PrometheusProvider:
    """The tutorial's Prometheus provider: every name starts ``my_group_string_service_``."""
    return PrometheusProvider(namespace="my_group", subsystem="string_service")


def wire_metrics(
    app: App, svc: Service, provider: PrometheusProvider, logger: Logger | None = None
) -> tuple[ASGIApp, Service]:
    """Instrument ``svc`` with the tutorial's metrics; return the app serving them too.

    With ``logger``, requests refused before the service ran (a body that does not
    decode) are logged there and counted as failed calls (``examples.stringsvc2
    .rejections``): routes added to ``app`` after this call get the hook.

    The returned ASGI app answers ``GET /metrics`` (Prometheus text, or OpenMetrics when
    the scraper asks) and passes everything else, lifespan included, to ``app``.
    """
    keys = ("method", "error")
    request_count = provider.counter("request_count", "Number of requests received.", keys)
    request_latency = provider.summary(
        "request_latency_microseconds", "Total duration of requests in microseconds.", keys
    )
    count_result = provider.summary("count_result", "The result of each count method.")
    instrumented = InstrumentingMiddleware(request_count, request_latency, count_result, svc)
    if logger is not None:
        app.options = app.options.merge(rejected=rejections(logger, request_count))
    return with_metrics(app, provider), instrumented
