"""kit-prometheus against raw prometheus-client: the cost of recording with labels.

.venv/bin/python bench/metrics_prometheus.py   # writes the "prometheus" section of BENCHMARKS.md

Each pair records into its own fresh ``CollectorRegistry`` (the same kind of registry
for both), with the same labels, in interleaved runs so machine drift hits both alike.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import prometheus_client
from _report import best_of, machine, write_section
from kit_prometheus import PrometheusProvider

N = 100_000
ROUNDS = 7


def pairs() -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
    """(what, kit call, raw prometheus-client call) for each operation measured."""
    kit = PrometheusProvider(prometheus_client.CollectorRegistry())
    raw = prometheus_client.CollectorRegistry()
    labels = ["method", "error"]

    kit_counter = kit.counter("requests_total", "Requests.", labels)
    raw_counter = prometheus_client.Counter("requests_total", "Requests.", labels, registry=raw)
    kit_histogram = kit.histogram("latency_seconds", "Latency.", labels)
    raw_histogram = prometheus_client.Histogram("latency_seconds", "Latency.", labels, registry=raw)
    kit_gauge = kit.gauge("in_flight", "In flight.", labels)
    raw_gauge = prometheus_client.Gauge("in_flight", "In flight.", labels, registry=raw)
    kit_bound = kit_counter.with_labels(method="x", error="none")
    raw_bound = raw_counter.labels(method="x", error="none")

    return [
        (
            '`counter.with_labels(method="x", error="none").add()` vs `.labels(...).inc()`',
            lambda: kit_counter.with_labels(method="x", error="none").add(),
            lambda: raw_counter.labels(method="x", error="none").inc(),
        ),
        (
            "histogram `with_labels(...).observe(0.003)` vs `labels(...).observe(0.003)`",
            lambda: kit_histogram.with_labels(method="x", error="none").observe(0.003),
            lambda: raw_histogram.labels(method="x", error="none").observe(0.003),
        ),
        (
            "gauge `with_labels(...).add(1)` vs `labels(...).inc(1)`",
            lambda: kit_gauge.with_labels(method="x", error="none").add(1),
            lambda: raw_gauge.labels(method="x", error="none").inc(1),
        ),
        (
            "counter bound once: `bound.add()` vs `child.inc()`",
            kit_bound.add,
            raw_bound.inc,
        ),
    ]


def measure() -> list[tuple[str, float, float]]:
    rows = []
    for what, kit_call, raw_call in pairs():
        kit_times, raw_times = [], []
        for _ in range(ROUNDS):  # interleaved
            kit_times.append(best_of(kit_call, number=N // ROUNDS, repeat=3))
            raw_times.append(best_of(raw_call, number=N // ROUNDS, repeat=3))
        rows.append((what, min(kit_times), min(raw_times)))
    return rows


def main() -> None:
    rows = measure()
    lines = [
        "## kit-prometheus",
        "",
        f"{machine()}, prometheus-client {prometheus_client_version()}",
        "",
        "Recording with labels, kit-prometheus against raw prometheus-client on the same kind "
        "of registry, interleaved runs, best of each.",
        "",
        "| operation | kit-prometheus | prometheus-client "
        "| ratio (target <= 1.20x for the first) |",
        "|---|---|---|---|",
    ]
    for what, kit_t, raw_t in rows:
        lines.append(
            f"| {what} | {kit_t * 1e9:.0f} ns | {raw_t * 1e9:.0f} ns | {kit_t / raw_t:.2f}x |"
        )
    lines += [
        "",
        "kit caches each label set's child, so `with_labels` is a dict lookup; "
        "prometheus-client's `labels()` sorts and checks the names and takes a lock on every call.",
    ]
    body = "\n".join(lines)
    print(body)
    write_section("prometheus", body)


def prometheus_client_version() -> str:
    from importlib.metadata import version

    return version("prometheus-client")


if __name__ == "__main__":
    main()
