"""The App on granian's RSGI interface: the direct path and the ASGI-adapted one agree."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import aiohttp
import msgspec
from kit_http import App, Request, Response
from kit_http.testing import running

JSON = {"Content-Type": "application/json"}


async def post(http: aiohttp.ClientSession, url: str, body: Any, **kw: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else msgspec.json.encode(body)
    async with http.post(url, data=data, headers=kw.pop("headers", JSON), **kw) as r:
        return r.status, msgspec.json.decode(await r.read())


async def test_direct_path_answers_and_rejects(svc: SimpleNamespace, http: Any) -> None:
    app = App(svc.StringService(), svc.AddressBook(), max_body=15_000)
    async with running(app, server="granian") as url:
        assert await post(http, f"{url}/uppercase", {"s": "hi"}) == (200, "HI")
        status, error = await post(http, f"{url}/uppercase", {"s": 1})
        assert (status, error["details"]["field"]) == (400, "$.s")
        assert (await post(http, f"{url}/uppercase", b'{"s": "\x80"}'))[0] == 400
        assert (await post(http, f"{url}/uppercase", b"[" * 5000 + b"]" * 5000))[0] == 400
        assert (await post(http, f"{url}/uppercase", {"s": ""}))[1]["message"] == "Empty string"
        assert (await post(http, f"{url}/count", {"s": "x"}, headers={"Content-Type": "a/b"}))[
            0
        ] == 415
        assert (await post(http, f"{url}/count", {"s": "x" * 20_000}))[0] == 413
        assert (await post(http, f"{url}/boom", {}))[1]["message"] == "internal error"
        assert (await post(http, f"{url}/nope", {}))[0] == 404
        async with http.get(f"{url}/count") as r:
            assert (r.status, r.headers["allow"]) == (405, "POST")
        async with http.get(f"{url}/addresses?limit=3&tags=x") as r:
            assert await r.json() == ["tag:x"]


async def test_chunked_body_limit_and_deadline(svc: SimpleNamespace, http: Any) -> None:
    async def chunks() -> Any:
        yield b'{"s": "'
        for _ in range(30):
            yield b"x" * 100

    async with running(App(svc.StringService(), max_body=1000), server="granian") as url:
        async with http.post(f"{url}/count", data=chunks(), headers=JSON) as r:
            assert r.status == 413
        status, left = await post(
            http, f"{url}/sleep", {"seconds": 0}, headers={**JSON, "Kit-Timeout": "3000"}
        )
        assert status == 200
        assert 2 < left <= 3
        status, error = await post(
            http, f"{url}/sleep", {"seconds": 3}, headers={**JSON, "Kit-Timeout": "50"}
        )
        assert (status, error["code"]) == (504, "deadline_exceeded")


async def test_stalled_body_times_out(svc: SimpleNamespace, http: Any) -> None:
    async with running(App(svc.StringService(), body_timeout=0.3), server="granian") as url:
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
            await writer.drain()
            assert await post(http, f"{url}/count", {"s": "ab"}) == (200, 2)
            reply = await asyncio.wait_for(reader.read(1000), 5)
        finally:
            writer.close()
            await writer.wait_closed()
    assert reply.startswith(b"HTTP/1.1 408 ")


async def test_routes_with_options_go_through_the_asgi_adapter(
    svc: SimpleNamespace, http: Any
) -> None:
    finals: list[tuple[str, int]] = []

    def after(request: Request, response: Response) -> None:
        response.headers.append(("X-Seen", request.headers["x-in"]))

    def finalizer(request: Request, status: int, seconds: float) -> None:
        finals.append((request.path, status))

    def decode(request: Request) -> Any:
        return {"got": request.body.decode(), "q": request.query.get("q")}

    async def echo(request: Any) -> Any:
        return request

    app = App(svc.StringService(), after=after, finalizer=finalizer)
    app.route("POST /echo", echo, decode=decode)
    events: list[str] = []
    app.on_startup.append(lambda: events.append("start"))
    app.on_shutdown.append(lambda: events.append("stop"))
    async with running(app, server="granian") as url:
        async with http.post(f"{url}/count", json={"s": "abc"}, headers={"x-in": "1"}) as r:
            assert (r.status, await r.json(), r.headers["x-seen"]) == (200, 3, "1")
        async with http.post(f"{url}/echo?q=2", data=b"raw", headers={**JSON, "x-in": "2"}) as r:
            assert await r.json() == {"got": "raw", "q": "2"}
        assert events == ["start"]
    assert finals == [("/count", 200), ("/echo", 200)]
    assert events == ["start", "stop"]
