"""End to end: a real Prometheus scrapes a running stringsvc2 and counts what the test sent."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

from kitcore.testing.servers import prometheus_server

UPPERCASE_OK = ["hello", "world", "kit", "go", "python", "prometheus", "x"]
UPPERCASE_FAILED = ["", "", ""]
COUNTED = ["a", "bb", "ccc", "dddd"]


def post(url: str, body: dict[str, str]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
        return json.loads(response.read())


def by_labels(result: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """A query result as {(method, error): value}."""
    return {(r["metric"]["method"], r["metric"]["error"]): float(r["value"][1]) for r in result}


def test_prometheus_counts_the_requests_the_test_made(example: Callable[..., Any]) -> None:
    svc = example("examples.stringsvc2")
    for s in UPPERCASE_OK + UPPERCASE_FAILED:
        answer = post(f"{svc.url}/uppercase", {"s": s})
        assert answer == ({"v": s.upper()} if s else {"v": "", "err": "Empty string"})
    for s in COUNTED:
        assert post(f"{svc.url}/count", {"s": s}) == {"v": len(s)}

    with prometheus_server([svc.address], scrape_interval="1s") as prometheus:
        requests = prometheus.wait_query("my_group_string_service_request_count_total")
        assert {r["metric"]["instance"] for r in requests} == {svc.address}
        assert by_labels(requests) == {
            ("uppercase", "false"): len(UPPERCASE_OK),
            ("uppercase", "true"): len(UPPERCASE_FAILED),
            ("count", "false"): len(COUNTED),
        }
        latencies = prometheus.query("my_group_string_service_request_latency_microseconds_count")
        assert by_labels(latencies) == by_labels(requests)
        total = prometheus.query("sum(my_group_string_service_request_count_total)")
        sent = len(UPPERCASE_OK) + len(UPPERCASE_FAILED) + len(COUNTED)
        assert [float(r["value"][1]) for r in total] == [sent]
        results = prometheus.query("my_group_string_service_count_result_sum")
        assert [float(r["value"][1]) for r in results] == [sum(map(len, COUNTED))]
        up = prometheus.query(f'up{{instance="{svc.address}"}}')
        assert [float(r["value"][1]) for r in up] == [1]
