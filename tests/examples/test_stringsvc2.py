"""stringsvc2 logs each call as the tutorial does and serves its metrics."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

JSON = {"Content-Type": "application/json"}


async def test_logs_each_call(example: Callable[..., Any]) -> None:
    svc = example("examples.stringsvc2")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{svc.url}/uppercase", json={"s": "hello, world"}) as r:
            assert await r.json() == {"v": "HELLO, WORLD"}
        async with http.post(f"{svc.url}/count", json={"s": "hello, world"}) as r:
            assert await r.json() == {"v": 12}
        async with http.post(f"{svc.url}/uppercase", json={"s": ""}) as r:
            assert await r.json() == {"v": "", "err": "Empty string"}
    [upper] = svc.log_lines('input="hello, world" output=')
    assert re.search(
        r"^listen=127\.0\.0\.1:\d+ caller=logging_middleware\.py:\d+ method=uppercase "
        r'input="hello, world" output="HELLO, WORLD" err=null took=[\d.]+(ns|µs|ms)$',
        upper,
    ), upper
    [count] = svc.log_lines("method=count")
    assert 'method=count input="hello, world" n=12 took=' in count
    [empty] = svc.log_lines('err="Empty string"')
    assert "method=uppercase input= output= " in empty


async def test_serves_metrics(example: Callable[..., Any]) -> None:
    svc = example("examples.stringsvc2")
    async with aiohttp.ClientSession() as http:
        for s in ("a", "b", ""):
            async with http.post(f"{svc.url}/uppercase", json={"s": s}) as r:
                assert r.status == 200
        async with http.post(f"{svc.url}/count", json={"s": "abc"}) as r:
            assert r.status == 200
        async with http.get(f"{svc.url}/metrics") as r:
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            samples = parse_samples(await r.text())
    count = "my_group_string_service_request_count_total"
    assert samples[count, (("error", "false"), ("method", "uppercase"))] == 2
    assert samples[count, (("error", "true"), ("method", "uppercase"))] == 1
    assert samples[count, (("error", "false"), ("method", "count"))] == 1
    assert (count, (("error", "true"), ("method", "count"))) not in samples
    assert samples["my_group_string_service_count_result_count", ()] == 1
    assert samples["my_group_string_service_count_result_sum", ()] == 3
    latency = "my_group_string_service_request_latency_microseconds"
    assert samples[f"{latency}_count", (("error", "false"), ("method", "count"))] == 1
    assert samples[f"{latency}_sum", (("error", "false"), ("method", "count"))] > 0


def parse_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_a_request_refused_while_decoding_is_logged_and_counted(
    example: Callable[..., Any],
) -> None:
    # Issue 10: a 400 from decoding never reaches the logging and instrumenting middleware.
    svc = example("examples.stringsvc2")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{svc.url}/uppercase", data=b'{"s": 5}', headers=JSON) as r:
            assert r.status == 400
        async with http.get(f"{svc.url}/metrics") as r:
            samples = parse_samples(await r.text())
    [line] = svc.log_lines("rejected=true")
    assert "method=uppercase rejected=true status=400 code=invalid_argument err=" in line, line
    count = "my_group_string_service_request_count_total"
    assert samples[count, (("error", "true"), ("method", "uppercase"))] == 1
