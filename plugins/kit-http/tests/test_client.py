"""The client against real servers: typed calls, typed errors, deadlines, and bad servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from kit_http import App
from kit_http.client import ClientEndpoint, OutgoingRequest, Reply, ServiceClient, client_factory
from kit_http.testing import running

from kitcore import (
    AlreadyExists,
    DeadlineExceeded,
    Internal,
    InvalidArgument,
    NotFound,
    Unavailable,
    connect,
    context,
    describe,
)
from kitcore.client import Call
from kitcore.plugins import plugins
from kitcore.testing.services import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def tcp_server(handle: Handler) -> AsyncIterator[str]:
    """A raw TCP server misbehaving as ``handle`` says; yields ``host:port``."""
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handle(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            tasks.discard(task)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")


async def test_connect_calls_typed_methods(svc: SimpleNamespace) -> None:
    service = svc.StringService
    async with running(App(service())) as url, connect(service, url) as remote:
        assert await remote.uppercase("hello, world") == "HELLO, WORLD"
        assert await remote.count(s="hello") == 5
        with pytest.raises(InvalidArgument, match="Empty string"):
            await remote.uppercase("")
        with pytest.raises(Internal, match="internal error"):
            await remote.boom()


async def test_connect_calls_rest_routes_and_errors_keep_their_type(svc: SimpleNamespace) -> None:
    book = svc.AddressBook()
    async with running(App(book)) as url, connect(svc.AddressBook, url) as remote:
        await remote.put("a/b c", svc.Address(id="a/b c", location="Main"))
        assert book.addresses["a/b c"].location == "Main"
        with pytest.raises(AlreadyExists):
            await remote.put("a/b c", svc.Address(id="x"))
        assert await remote.get("a/b c") == svc.Address(id="a/b c", location="Main")
        assert await remote.find(limit=5, tags=["x", "y z"]) == ["a/b c", "tag:x", "tag:y z"]
        assert await remote.move("a/b c", "High", number=3) == svc.Address("a/b c", "High 3")
        await remote.delete("a/b c")
        with pytest.raises(NotFound):
            await remote.get("a/b c")


async def test_the_callers_deadline_is_sent_and_bounds_the_call(svc: SimpleNamespace) -> None:
    service = svc.StringService
    async with running(App(service())) as url, connect(service, url, timeout=2.0) as remote:
        left = await remote.sleep(0)
        assert 1.5 < left <= 2.0
        with context.timeout(0.3):
            left = await remote.sleep(0)
            assert 0 < left <= 0.3
            with pytest.raises(DeadlineExceeded):
                await remote.sleep(2)


async def test_client_timeout_option_caps_the_call(svc: SimpleNamespace) -> None:
    spec = describe(svc.StringService)
    async with running(App(svc.StringService())) as url:
        endpoint, close = client_factory(spec, url.split("://")[1], timeout=0.2)
        try:
            m = spec.methods["sleep"]
            assert 0 < await endpoint(Call(m, m.request(0))) <= 0.2
            with pytest.raises(DeadlineExceeded):
                await endpoint(Call(m, m.request(3)))
        finally:
            await close()


async def test_down_server_is_unavailable(svc: SimpleNamespace) -> None:
    target = f"127.0.0.1:{free_port()}"
    endpoint = ServiceClient(describe(svc.StringService), target)
    m = endpoint.spec.methods["count"]
    try:
        with pytest.raises(Unavailable, match="Connect"):
            await endpoint(Call(m, m.request("a")))
    finally:
        await endpoint.close()
    async with connect(svc.StringService, f"http://{target}", max_attempts=2) as remote:
        with pytest.raises(Unavailable) as info:
            await remote.count("a")
        assert len(info.value.__cause__.errors) == 2  # type: ignore[union-attr]


async def test_server_closing_connections_is_unavailable() -> None:
    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async with tcp_server(close_at_once) as target:
        endpoint = ClientEndpoint("POST", f"http://{target}/x")
        try:
            with pytest.raises(Unavailable, match="ServerDisconnected"):
                await endpoint({"s": "a"})
        finally:
            await endpoint.close()


async def test_server_closing_mid_response_is_unavailable() -> None:
    async def half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"v":')
        await writer.drain()

    async with tcp_server(half) as target:
        endpoint = ClientEndpoint("POST", f"http://{target}/x")
        try:
            with pytest.raises(Unavailable):
                await endpoint({"s": "a"})
        finally:
            await endpoint.close()


async def test_slow_server_hits_the_deadline() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(30)

    async with tcp_server(never_answer) as target:
        endpoint = ClientEndpoint("POST", f"http://{target}/x", timeout=0.2)
        try:
            with pytest.raises(DeadlineExceeded):
                await endpoint({"s": "a"})
            with context.timeout(0.1), pytest.raises(DeadlineExceeded):
                await ClientEndpoint.__call__(endpoint, {"s": "a"})
        finally:
            await endpoint.close()


async def test_expired_deadline_fails_before_sending() -> None:
    sent: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sent.append(await reader.read(100))

    async with tcp_server(record) as target:
        endpoint = ClientEndpoint("POST", f"http://{target}/x")
        try:
            with context.timeout(0.01):
                await asyncio.sleep(0.02)
                with pytest.raises(DeadlineExceeded, match="before"):
                    await endpoint({})
        finally:
            await endpoint.close()
    assert sent == []


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (502, b"Bad Gateway", Unavailable),
        (503, b"", Unavailable),
        (500, b"<html>oops</html>", Internal),
        (404, b"not here", NotFound),
        (422, b"{}", InvalidArgument),
        (409, b'{"code": "already_exists", "message": "dup"}', AlreadyExists),
        (500, b'{"code": "no_such_code", "message": "x"}', Internal),
    ],
)
async def test_error_statuses_come_back_typed(status: int, body: bytes, error: type) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))
        await writer.drain()

    async with tcp_server(answer) as target:
        endpoint = ClientEndpoint("POST", f"http://{target}/x")
        try:
            with pytest.raises(error):
                await endpoint({})
        finally:
            await endpoint.close()


async def test_bad_json_reply_is_internal() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n{{{{")
        await writer.drain()

    async with tcp_server(answer) as target:
        endpoint = ClientEndpoint("POST", f"http://{target}/x")
        try:
            with pytest.raises(Internal, match="bad response"):
                await endpoint({})
        finally:
            await endpoint.close()


async def test_explicit_client_endpoint_with_options(svc: SimpleNamespace) -> None:
    class UppercaseResponse(msgspec.Struct):
        v: str

    seen: list[Any] = []

    def before(request: OutgoingRequest) -> None:
        request.headers["X-Trace"] = "t1"
        seen.append(("before", request.method))

    def after(reply: Reply) -> None:
        seen.append(("after", reply.status))

    def finalizer(request: OutgoingRequest, status: int, seconds: float) -> None:
        seen.append(("final", status))

    async def uppercase(request: Any) -> dict[str, str]:
        return {"v": request["s"].upper()}

    app = App()
    app.route("POST /uppercase", uppercase)
    async with running(app) as url:
        endpoint = ClientEndpoint(
            "post",
            f"{url}/uppercase",
            encode=lambda req: msgspec.json.encode({"s": req}),
            response_type=UppercaseResponse,
            before=before,
            after=[after],
            finalizer=finalizer,
        )
        try:
            assert await endpoint("hi") == UppercaseResponse("HI")
            raw = ClientEndpoint("POST", f"{url}/uppercase", decode=lambda r: r.body)
            assert await raw({"s": "a"}) == b'{"v":"A"}'
            await raw.close()
            with pytest.raises(Internal):
                await endpoint(None)
        finally:
            await endpoint.close()
    assert seen == [
        ("before", "POST"),
        ("after", 200),
        ("final", 200),
        ("before", "POST"),
        ("after", 500),
        ("final", 500),
    ]


async def test_client_keeps_one_pooled_connection_per_target(svc: SimpleNamespace) -> None:
    peers: set[Any] = set()

    def before(request: Any) -> None:
        peers.add(request.client)

    service = svc.StringService
    async with running(App(service(), before=before)) as url, connect(service, url) as remote:
        for _ in range(5):
            assert await remote.count("abc") == 3
    assert len(peers) == 1


def test_http_transport_is_registered() -> None:
    backend = plugins().backend("transports", "http")
    assert backend.plugin == "kit-http"
    assert callable(backend.meta["server"])
    assert plugins().backend("transports", "https").plugin == "kit-http"
