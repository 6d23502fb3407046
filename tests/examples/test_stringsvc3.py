"""stringsvc3: three instances and a proxy reproduce the tutorial's round robin."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.examples.conftest import console_spans


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


class DroppingPort:
    """Holds a stopped instance's port and drops every connection at once, counting them.

    The instance looks crashed to the proxy (each call fails: server disconnected), and
    the count is every call the proxy made to it.
    """

    def __init__(self) -> None:
        self.connections = 0

    async def _drop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()
        await writer.wait_closed()


@contextlib.asynccontextmanager
async def dropping(port: int) -> AsyncIterator[DroppingPort]:
    """Listen on 127.0.0.1:``port`` for the block, dropping every connection."""
    dropper = DroppingPort()
    server = await asyncio.start_server(dropper._drop, "127.0.0.1", port)
    try:
        yield dropper
    finally:
        server.close()
        await server.wait_closed()


async def uppercase(http: aiohttp.ClientSession, proxy: Any, s: str) -> None:
    async with http.post(f"{proxy.url}/uppercase", json={"s": s}) as r:
        assert await r.json() == {"v": s.upper()}


def transitions(proxy: Any, instance: Any) -> list[tuple[str, str]]:
    """The state changes the proxy logged for ``instance``'s breaker: (state, previous)."""
    changes = []
    for line in proxy.log_lines(f"breaker={instance.address} ", timeout=0):
        found = re.search(r"state=(\S+) previous=(\S+)$", line)
        assert found, line
        changes.append((found.group(1), found.group(2)))
    return changes


async def test_a_failing_instance_is_cut_off_while_the_others_serve(
    example: Callable[..., Any],
) -> None:
    instances = [example("examples.stringsvc3", wait=False) for _ in range(3)]
    proxy_to = ",".join(i.address for i in instances)
    breaker_flags = ("--breaker-fail-max", "3", "--breaker-reset", "2")
    proxy = example("examples.stringsvc3", "--proxy", proxy_to, *breaker_flags, wait=False)
    for svc in (*instances, proxy):
        svc.wait()
    failing, serving = instances[1], [instances[0], instances[2]]
    assert failing.stop() == 0
    async with dropping(failing.port) as dropped, aiohttp.ClientSession() as http:
        # Every call succeeds (Retry moves on to the next instance) until the failing
        # instance's third failure in a row opens its circuit.
        for n in range(20):
            await uppercase(http, proxy, f"before{n}")
            if transitions(proxy, failing):
                break
        assert transitions(proxy, failing) == [("open", "closed")]
        [opened] = proxy.log_lines(f"breaker={failing.address} ", timeout=0)
        assert 'level=warn msg="circuit breaker state changed"' in opened
        assert dropped.connections == 3

        # While open, the failing instance is not called at all; the others serve.
        while_open = [f"open{n}" for n in range(9)]
        for s in while_open:
            await uppercase(http, proxy, s)
        assert dropped.connections == 3
        served = [i.log_lines(f"input={s} ", timeout=0) for s in while_open for i in serving]
        assert sum(map(len, served)) == len(while_open)
        async with http.get(f"{proxy.url}/metrics") as r:
            states = {
                sample.labels["breaker"]: sample.value
                for family in text_string_to_metric_families(await r.text())
                for sample in family.samples
                if sample.name == "kit_circuit_breaker_state"
            }
        assert states == {failing.address: 2, **{i.address: 0 for i in serving}}

        # After the reset timeout one trial call goes to it, fails, and opens it again.
        for n in range(100):
            await uppercase(http, proxy, f"after{n}")
            if len(transitions(proxy, failing)) == 3:
                break
            await asyncio.sleep(0.05)
        assert transitions(proxy, failing) == [
            ("open", "closed"),
            ("half_open", "open"),
            ("open", "half_open"),
        ]
        assert dropped.connections == 4
    assert all(not transitions(proxy, i) for i in serving)


async def test_trace_console_shows_one_trace_across_proxy_and_instance(
    example: Callable[..., Any],
) -> None:
    instance = example("examples.stringsvc3", "--trace", "console")
    proxy = example("examples.stringsvc3", "--proxy", instance.address, "--trace", "console")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{proxy.url}/uppercase", json={"s": "foo"}) as r,
    ):
        assert await r.json() == {"v": "FOO"}
    [served] = instance.log_lines("method=uppercase")
    trace_id = re.search(r" trace_id=(\w+)", served).group(1)  # type: ignore[union-attr]
    assert instance.stop() == 0 and proxy.stop() == 0
    proxy_spans = {s["kind"]: s for s in console_spans(proxy.log())}
    (instance_span,) = console_spans(instance.log())
    assert {s["context"]["trace_id"] for s in (*proxy_spans.values(), instance_span)} == {
        f"0x{trace_id}"
    }
    server = proxy_spans["SpanKind.SERVER"]
    call = proxy_spans["SpanKind.INTERNAL"]
    attempt = proxy_spans["SpanKind.CLIENT"]
    assert server["parent_id"] is None
    assert call["parent_id"] == server["context"]["span_id"]
    assert attempt["parent_id"] == call["context"]["span_id"]
    assert instance_span["parent_id"] == attempt["context"]["span_id"]
    assert attempt["attributes"]["server.port"] == instance.port
    assert instance_span["attributes"]["http.route"] == "/uppercase"
    assert instance_span["resource"]["attributes"]["service.instance.id"] == instance.address


@contextlib.asynccontextmanager
async def answering(port: int) -> AsyncIterator[None]:
    """Answer ``POST /uppercase`` on 127.0.0.1:``port`` as a stringsvc instance would."""
    from aiohttp import web

    async def upper(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"v": body["s"].upper()})

    app = web.Application()
    app.router.add_post("/uppercase", upper)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()


async def test_when_every_circuit_is_open_calls_go_through_anyway(
    example: Callable[..., Any],
) -> None:
    # A stall of the proxy times out every instance at once and opens every circuit;
    # refusing every call until the reset timeout (60 s here) would be an outage.
    instances = [example("examples.stringsvc3", wait=False) for _ in range(2)]
    proxy_to = ",".join(i.address for i in instances)
    breaker_flags = ("--breaker-fail-max", "2", "--breaker-reset", "60")
    proxy = example("examples.stringsvc3", "--proxy", proxy_to, *breaker_flags, wait=False)
    for svc in (*instances, proxy):
        svc.wait()
    for instance in instances:
        assert instance.stop() == 0
    async with aiohttp.ClientSession() as http:
        async with dropping(instances[0].port), dropping(instances[1].port):
            for n in range(10):
                async with http.post(f"{proxy.url}/uppercase", json={"s": f"x{n}"}) as r:
                    assert (await r.json())["err"]
                if all(transitions(proxy, i) for i in instances):
                    break
            assert all(transitions(proxy, i) == [("open", "closed")] for i in instances)
        async with dropping(instances[0].port), answering(instances[1].port):
            for n in range(5):
                await uppercase(http, proxy, f"after{n}")
