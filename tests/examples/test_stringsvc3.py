"""stringsvc3: three instances and a proxy reproduce the tutorial's round robin."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import aiohttp


def start_cluster(example: Callable[..., Any]) -> tuple[Any, list[Any]]:
    instances = [example("examples.stringsvc3", wait=False) for _ in range(3)]
    proxy_to = ",".join(i.address for i in instances)
    proxy = example("examples.stringsvc3", "--proxy", proxy_to, wait=False)
    for svc in (*instances, proxy):
        svc.wait()
    return proxy, instances


async def test_proxy_round_robins_over_the_instances(example: Callable[..., Any]) -> None:
    proxy, instances = start_cluster(example)
    async with aiohttp.ClientSession() as http:
        for s in ("foo", "bar", "baz", "qux"):
            async with http.post(f"{proxy.url}/uppercase", json={"s": s}) as r:
                assert await r.json() == {"v": s.upper()}
        async with http.post(f"{proxy.url}/uppercase", json={"s": ""}) as r:
            assert await r.json() == {"v": "", "err": "Empty string"}
        async with http.post(f"{proxy.url}/count", json={"s": "abcd"}) as r:
            assert await r.json() == {"v": 4}
    [proxy_to] = proxy.log_lines("proxy_to=")
    assert f'proxy_to="[{" ".join(i.address for i in instances)}]"' in proxy_to
    # Round robin in the instancer's (sorted) order: foo, bar, baz, then qux and "" again.
    order = sorted(instances, key=lambda i: i.address)
    inputs = [
        [
            re.search(r" input=(\S*)", line).group(1)  # type: ignore[union-attr]
            for line in i.log_lines("method=uppercase", count=n)
        ]
        for i, n in zip(order, (2, 2, 1), strict=True)
    ]
    assert inputs == [["foo", "qux"], ["bar", ""], ["baz"]]
    assert len(proxy.log_lines("method=uppercase", count=5)) == 5
    for instance in instances:
        assert instance.log_lines("proxy_to=none")


async def test_proxy_retries_past_a_dead_instance(example: Callable[..., Any]) -> None:
    proxy, instances = start_cluster(example)
    assert instances[1].stop() == 0
    async with aiohttp.ClientSession() as http:
        for s in ("a", "b", "c", "d"):
            async with http.post(f"{proxy.url}/uppercase", json={"s": s}) as r:
                assert await r.json() == {"v": s.upper()}
    for instance in instances:
        instance.stop()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{proxy.url}/uppercase", json={"s": "e"}) as r,
    ):
        body = await r.json()
    assert body["v"] == ""
    assert "attempt" in body["err"]
