"""Histogram exemplars: labels from the provider's ``exemplar()``, shown in OpenMetrics."""

from __future__ import annotations

from kit_prometheus import PrometheusProvider
from prometheus_client.openmetrics.exposition import generate_latest


def test_exemplar_labels_reach_the_openmetrics_exposition() -> None:
    current: list[dict[str, str] | None] = [{"trace_id": "abc123"}]
    provider = PrometheusProvider(exemplar=lambda: current[0])
    histogram = provider.histogram("work_seconds", "work", ["kind"], buckets=[0.1, 1.0])
    histogram.with_labels(kind="a").observe(0.05)
    current[0] = None
    histogram.with_labels(kind="a").observe(0.5)  # no exemplar: the fast path
    text = generate_latest(provider.registry).decode()
    lines = {line.split(" ")[0]: line for line in text.splitlines() if "_bucket" in line}
    assert '# {trace_id="abc123"} 0.05' in lines['work_seconds_bucket{kind="a",le="0.1"}']
    assert "#" not in lines['work_seconds_bucket{kind="a",le="1.0"}']
    assert 'work_seconds_count{kind="a"} 2.0' in text


def test_without_exemplar_nothing_changes() -> None:
    provider = PrometheusProvider()
    provider.histogram("plain_seconds").observe(0.2)
    assert b"# {" not in generate_latest(provider.registry)
