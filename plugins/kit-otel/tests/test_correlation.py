"""Log lines and Prometheus exemplars inside a traced request carry its trace id."""

from __future__ import annotations

import io
import json

import aiohttp
from kit_http import App
from kit_http.testing import running
from kit_otel import correlated, exemplar
from kit_prometheus import PrometheusProvider
from kit_prometheus.asgi import metrics_app

from kitcore.log import JSONWriter, Logger

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


class Logged:
    """Logs and times each call."""

    def __init__(self, logger: Logger, provider: PrometheusProvider) -> None:
        self.logger = logger
        self.latency = provider.histogram("latency_seconds", "call latency", ["method"])

    async def work(self, n: int) -> int:
        """Log, observe, return ``n``."""
        self.logger.info(msg="working", n=n)
        self.latency.with_labels(method="work").observe(0.01)
        return n


async def test_log_lines_and_exemplars_carry_the_trace(memory) -> None:
    stream = io.StringIO()
    logger = correlated(Logger(JSONWriter(stream)))
    provider = PrometheusProvider(exemplar=exemplar)
    service = Logged(logger, provider)
    app = App(service, **memory.tracing.http_server(service))
    logger.info(msg="outside")
    async with (
        running(app) as base,
        running(metrics_app(provider)) as metrics,
        aiohttp.ClientSession() as session,
    ):
        async with session.post(base + "/work", json={"n": 3}) as reply:
            assert reply.status == 200
        async with session.get(metrics, headers={"accept": OPENMETRICS}) as reply:
            assert reply.headers["content-type"].startswith("application/openmetrics-text")
            exposition = await reply.text()
        async with session.get(metrics) as reply:
            classic = await reply.text()
    (span,) = memory.spans()
    trace_id = format(span.context.trace_id, "032x")
    span_id = format(span.context.span_id, "016x")
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert outside["trace_id"] is None and outside["span_id"] is None
    assert inside["trace_id"] == trace_id and inside["span_id"] == span_id
    assert inside["msg"] == "working"
    bucket = next(
        line
        for line in exposition.splitlines()
        if line.startswith('latency_seconds_bucket{le="0.01",method="work"}')
    )
    assert f'# {{span_id="{span_id}",trace_id="{trace_id}"}} 0.01' in bucket
    assert "trace_id" not in classic  # the classic text format has no exemplars


async def test_no_exemplar_outside_a_trace() -> None:
    provider = PrometheusProvider(exemplar=exemplar)
    provider.histogram("plain_seconds").observe(0.2)
    from prometheus_client.openmetrics.exposition import generate_latest

    assert b"trace_id" not in generate_latest(provider.registry)
    assert b"plain_seconds_count 1.0" in generate_latest(provider.registry)
