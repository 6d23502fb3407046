"""Server streaming on real servers: kit-grpc, and kit-http on uvicorn and granian.

One service whose methods yield, served on each transport in the test's own loop (so
the test reads the service's counters), called through ``kitcore.connect``'s typed
client. Backpressure is measured by the items the service produced ahead of what the
client read, never by time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

pytest.importorskip("kit_grpc")
pytest.importorskip("kit_http")

import aiohttp
import grpc
from kit_grpc.schema import schema
from kit_grpc.serve import proto_text
from kit_grpc.testing import running as grpc_running
from kit_http import App
from kit_http.openapi import document
from kit_http.testing import running as http_running

from kitcore import (
    DeadlineExceeded,
    NotFound,
    PermissionDenied,
    Unavailable,
    connect,
    context,
    describe,
)

ROOT = Path(__file__).resolve().parent.parent

PAD = 64 * 1024
"""Bytes of padding per item in the backpressure test."""

AHEAD_LIMIT = 64 * 1024 * 1024 // PAD
"""Items a server may have produced ahead of a paused client: 64 MiB of them.

What sits between the generator and the client is a few bounded buffers: the kernel's
socket buffers (here a receive buffer grows up to 32 MiB: net.ipv4.tcp_rmem), HTTP/2
flow-control windows, the servers' and clients' own buffers; measured, 5 to 19 MB on
loopback. Without backpressure the server produces all of a stream of twice this many
items while the client is paused.
"""


class Item(msgspec.Struct):
    """One item of a stream."""

    n: int
    pad: str = ""


class Feed:
    """Streams for the tests, counting what they produce and when they are closed."""

    def __init__(self) -> None:
        self.produced = 0
        self.closed = asyncio.Event()
        self.attempts: Counter[str] = Counter()

    async def numbers(self, n: int, pad: int = 0) -> AsyncIterator[Item]:
        """Items 0 to n - 1, each padded with ``pad`` bytes."""
        try:
            for i in range(n):
                self.produced += 1
                yield Item(i, "x" * pad)
        finally:
            self.closed.set()

    async def fail_after(self, n: int) -> AsyncIterator[int]:
        """0 to n - 1, then NotFound."""
        for i in range(n):
            yield i
        raise NotFound(f"nothing after {n}", details={"after": n})

    async def refuse(self) -> AsyncIterator[int]:
        """PermissionDenied before any item."""
        raise PermissionDenied("not yours")
        yield 0  # pragma: no cover

    async def stall_after(self, n: int) -> AsyncIterator[int]:
        """0 to n - 1, then waits for ever."""
        try:
            for i in range(n):
                yield i
            await asyncio.Event().wait()
            yield -1  # pragma: no cover
        finally:
            self.closed.set()

    async def nothing(self) -> AsyncIterator[int]:
        """An empty stream."""
        return
        yield 0  # pragma: no cover

    async def flaky(self, key: str) -> AsyncIterator[int]:
        """Unavailable on the first attempt; then 1, 2 (and Unavailable after, for "mid")."""
        self.attempts[key] += 1
        if self.attempts[key] == 1:
            raise Unavailable("warming up")
        yield 1
        yield 2
        if key == "mid":
            raise Unavailable("gone mid-stream")

    async def whoami(self, times: int) -> AsyncIterator[str]:
        """The ``user`` a server's before function bound, ``times`` times."""
        for _ in range(times):
            yield str(context.get("user", ""))

    async def hello(self, name: str) -> str:
        """A unary method beside the streams."""
        return f"hello {name}"


TRANSPORTS = ["grpc", "uvicorn", "granian"]


@contextlib.asynccontextmanager
async def serving(kind: str, feed: Feed, **options: Any) -> AsyncIterator[str]:
    """Serve ``feed`` over ``kind`` with server ``options``; yields the URL to connect to."""
    if kind == "grpc":
        async with grpc_running(feed, **options) as address:
            yield f"grpc://{address}"
    else:
        async with http_running(App(feed, **options), server=kind) as url:
            yield url


@pytest.fixture(params=TRANSPORTS)
async def served(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Feed, str]]:
    """A Feed served over each transport in turn, and its URL."""
    feed = Feed()
    async with serving(request.param, feed) as url:
        yield feed, url


async def wait_for(event: asyncio.Event) -> None:
    """Wait for ``event``; a liveness guard of 10 s, not a measure."""
    await asyncio.wait_for(event.wait(), 10)


async def settled(read: Any) -> int:
    """``read()`` once it stops changing (a server filling its buffers), at most 10 s."""
    last, same = -1, 0
    for _ in range(100):
        now = read()
        same = same + 1 if now == last else 0
        if same == 3:
            break
        last = now
        await asyncio.sleep(0.1)
    return int(read())


async def tasks_back_to(count: int) -> int:
    """The number of tasks in the loop once it is at most ``count`` again (10 s at most)."""
    for _ in range(200):
        if len(asyncio.all_tasks()) <= count:
            break
        await asyncio.sleep(0.05)
    return len(asyncio.all_tasks())


def open_fds() -> int:
    """File descriptors this process holds (sockets included)."""
    return len(os.listdir("/proc/self/fd"))


def test_a_method_that_yields_is_a_streaming_method() -> None:
    spec = describe(Feed)
    assert spec.methods["numbers"].streaming
    assert spec.methods["numbers"].response_type is Item
    assert not spec.methods["hello"].streaming


def test_kit_proto_prints_a_server_stream() -> None:
    text = proto_text(Feed)
    assert "rpc Numbers(NumbersRequest) returns (stream NumbersResponse);" in text
    assert "rpc Hello(HelloRequest) returns (HelloResponse);" in text


async def test_items_arrive_in_order_typed(served: tuple[Feed, str]) -> None:
    _, url = served
    async with connect(Feed, url) as client:
        got = [item async for item in client.numbers(300)]
        assert got == [Item(i) for i in range(300)]
        assert all(type(item) is Item for item in got)
        assert await client.hello("ada") == "hello ada"  # unary calls beside streams


async def test_an_empty_stream(served: tuple[Feed, str]) -> None:
    _, url = served
    async with connect(Feed, url) as client:
        assert [x async for x in client.nothing()] == []


async def test_an_error_mid_stream_arrives_typed_after_the_items(
    served: tuple[Feed, str],
) -> None:
    _, url = served
    got = []
    async with connect(Feed, url) as client:
        with pytest.raises(NotFound) as err:
            async for x in client.fail_after(3):
                got.append(x)
    assert got == [0, 1, 2]
    assert err.value.message == "nothing after 3"
    assert err.value.details == {"after": 3}


async def test_an_error_before_the_first_item_is_the_calls_error(
    served: tuple[Feed, str],
) -> None:
    _, url = served
    async with connect(Feed, url) as client:
        with pytest.raises(PermissionDenied, match="not yours"):
            async for _ in client.refuse():
                pass


async def test_retried_only_before_the_first_item(served: tuple[Feed, str]) -> None:
    feed, url = served
    async with connect(Feed, url) as client:
        assert [x async for x in client.flaky("ok")] == [1, 2]
        assert feed.attempts["ok"] == 2  # the failed opening was retried
        got = []
        with pytest.raises(Unavailable, match="gone mid-stream"):
            async for x in client.flaky("mid"):
                got.append(x)
        assert got == [1, 2]  # the items once each: no retry after the first item
        assert feed.attempts["mid"] == 2


async def test_the_deadline_covers_the_whole_stream(served: tuple[Feed, str]) -> None:
    feed, url = served
    got = []
    # The whole deadline for the opening (no per-attempt share), the connection made
    # first: only the stream's middle can run out of time.
    async with connect(Feed, url, timeout=1.0, attempt_timeout=False) as client:
        assert await client.hello("first") == "hello first"
        with pytest.raises(DeadlineExceeded):
            async for x in client.stall_after(3):
                got.append(x)
    assert got == [0, 1, 2]
    await wait_for(feed.closed)  # the server gave up too: its generator was closed


async def test_leaving_early_closes_the_generator(served: tuple[Feed, str]) -> None:
    feed, url = served
    async with connect(Feed, url) as client:
        async with client.numbers(10**9) as items:
            async for item in items:
                if item.n == 4:
                    break
        await wait_for(feed.closed)
        assert feed.produced < 10**9
        feed.closed.clear()
        # Dropped without closing: garbage collection closes the call.
        dropped = client.numbers(10**9)
        assert (await dropped.__anext__()).n == 0
        del dropped
        gc.collect()
        await wait_for(feed.closed)
        assert await client.hello("still") == "hello still"


async def test_a_slow_client_holds_the_server_back(served: tuple[Feed, str]) -> None:
    feed, url = served
    total = 2 * AHEAD_LIMIT
    async with connect(Feed, url, timeout=120.0) as client:
        items = client.numbers(total, pad=PAD)
        read = 0
        async for item in items:
            assert item.n == read
            read += 1
            if read in (1, 50):
                # The client pauses: the server runs on until its buffers are full.
                ahead = await settled(lambda: feed.produced) - read
                assert ahead <= AHEAD_LIMIT, f"{ahead} items produced ahead of the client"
        assert read == total


async def test_a_large_stream_leaks_no_task_and_no_socket(served: tuple[Feed, str]) -> None:
    _, url = served
    async with connect(Feed, url, timeout=120.0) as client:
        assert [i.n async for i in client.numbers(10_000)] == list(range(10_000))
        tasks, fds = len(asyncio.all_tasks()), open_fds()
        for _ in range(3):
            n = 0
            async for item in client.numbers(10_000):
                assert item.n == n
                n += 1
            assert n == 10_000
            async with client.numbers(10_000) as items:
                async for item in items:
                    if item.n == 100:
                        break
        assert await tasks_back_to(tasks) <= tasks
        assert open_fds() <= fds


async def test_ndjson_on_the_wire() -> None:
    feed = Feed()
    async with serving("uvicorn", feed) as url, aiohttp.ClientSession() as http:
        async with http.post(f"{url}/fail_after", json={"n": 2}) as r:
            assert r.status == 200
            assert r.headers["content-type"] == "application/x-ndjson"
            body = await r.read()
        assert body.splitlines() == [
            b'{"result":0}',
            b'{"result":1}',
            b'{"error":{"code":"not_found","message":"nothing after 2","details":{"after":2}}}',
        ]
        async with http.post(f"{url}/refuse", json={}) as r:
            assert r.status == 403  # before the first item: an ordinary error reply
            assert (await r.json())["code"] == "permission_denied"
        async with http.post(f"{url}/numbers", json={"n": "x"}) as r:
            assert r.status == 400


async def test_plain_grpc_reads_the_stream() -> None:
    feed = Feed()
    m = schema(Feed).methods["fail_after"]
    async with grpc_running(feed) as address, grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_stream("/kit.Feed/FailAfter")(m.request_class(n=2).SerializeToString())
        got = []
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for reply in call:
                got.append(m.response_class.FromString(reply).result)
        assert got == [0, 1]
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
        assert err.value.details() == "nothing after 2"
        malformed = channel.unary_stream("/kit.Feed/Numbers")(b"\xff\xff\xff")
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            async for _ in malformed:
                pass
        assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_the_openapi_document_describes_the_stream() -> None:
    doc = document(App(Feed()))
    reply = doc["paths"]["/numbers"]["post"]["responses"]["200"]
    line = reply["content"]["application/x-ndjson"]["schema"]
    assert set(line["properties"]) == {"result", "error"}
    assert line["properties"]["result"] == {"$ref": "#/components/schemas/Item"}
    assert "application/json" not in reply["content"]
    hello = doc["paths"]["/hello"]["post"]["responses"]["200"]["content"]
    assert "application/json" in hello


async def kit(*args: str) -> tuple[int, str, str]:
    """Run the ``kit`` command from the repository's root; its status, stdout and stderr."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from kitcore.cli import main; main()", *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("kind", ["grpc", "uvicorn"])
async def test_kit_call_prints_each_item_and_kit_describe_says_it_streams(kind: str) -> None:
    service = "tests.test_streaming:Feed"
    status, out, err = await kit("describe", service)
    assert status == 0, err
    assert "  numbers(n: int, pad: int = ...) -> AsyncIterator[Item]" in out.splitlines()
    async with serving(kind, Feed()) as url:
        status, out, err = await kit("call", url, "numbers", '{"n": 3}', "--service", service)
        assert status == 0, err
        assert out.splitlines() == [f'{{"n":{n},"pad":""}}' for n in range(3)]
        status, out, err = await kit("call", url, "fail_after", '{"n": 1}', "--service", service)
        assert status == 1
        assert out == "0\n"
        assert json.loads(err)["code"] == "not_found"


async def test_json_rpc_does_not_serve_streams() -> None:
    from kit_http import jsonrpc

    request = {"jsonrpc": "2.0", "method": "numbers", "params": {"n": 2}, "id": 1}
    async with (
        http_running(jsonrpc.app(Feed())) as url,
        aiohttp.ClientSession() as http,
        http.post(url, json=request) as r,
    ):
        reply = await r.json()
    assert reply["error"]["code"] == -32601  # method not found, not an internal error


@pytest.mark.parametrize("kind", ["grpc", "uvicorn"])
async def test_server_options_see_the_whole_stream(kind: str) -> None:
    seen: list[Any] = []
    if kind == "grpc":
        options: dict[str, Any] = {
            "before": lambda metadata: {"user": dict(metadata).get("user")},
            "finalizer": lambda metadata, code, seconds: seen.append(code.name),
        }
        client_options: dict[str, Any] = {"metadata": [("user", "ada")]}
        done, gone = "OK", "CANCELLED"
    else:
        options = {
            "before": lambda request: {"user": request.headers.get("user")},
            "finalizer": lambda request, status, seconds: seen.append(status),
        }
        client_options = {"headers": {"user": "ada"}}
        done, gone = 200, 499
    feed = Feed()
    async with serving(kind, feed, **options) as url, connect(Feed, url, **client_options) as c:
        assert [x async for x in c.whoami(3)] == ["ada"] * 3
        async with c.numbers(10**9) as items:
            async for _ in items:
                break
        await wait_for(feed.closed)
        for _ in range(200):  # the finalizer runs once the server has seen the client go
            if len(seen) == 2:
                break
            await asyncio.sleep(0.05)
    assert seen == [done, gone]


async def test_granians_rsgi_interface_streams_too() -> None:
    """``granian --interface rsgi`` on an App that streams: items, errors and closing work
    (without backpressure: RSGI's send_bytes does not wait, so serve() uses ASGI)."""
    from kit_http.serve import DEFAULT_LIMITS, _granian_rsgi

    from kitcore.testing.services import free_port

    feed, port, started = Feed(), free_port(), asyncio.Event()
    server = asyncio.create_task(
        _granian_rsgi(
            App(feed), "127.0.0.1", port, "warning", lambda *_: started.set(), DEFAULT_LIMITS
        )
    )
    try:
        await asyncio.wait_for(started.wait(), 15)
        async with connect(Feed, f"http://127.0.0.1:{port}") as client:
            assert [i.n async for i in client.numbers(500)] == list(range(500))
            got = []
            with pytest.raises(NotFound, match="nothing after 2"):
                async for x in client.fail_after(2):
                    got.append(x)
            assert got == [0, 1]
            feed.closed.clear()
            async with client.numbers(10**9) as items:
                async for item in items:
                    if item.n == 3:
                        break
            await wait_for(feed.closed)
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
