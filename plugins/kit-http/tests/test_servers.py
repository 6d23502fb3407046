"""The same app, unchanged, on uvicorn, granian and hypercorn, and mounted in Starlette/FastAPI."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from kit_http import App
from kit_http.testing import running

from kitcore import NotFound, connect


async def check(
    http: aiohttp.ClientSession, base: str, svc: SimpleNamespace, key: str = "a/b"
) -> None:
    quoted = quote(key, safe="")
    async with http.post(f"{base}/uppercase", json={"s": "hello, world"}) as r:
        assert (r.status, await r.json()) == (200, "HELLO, WORLD")
    async with http.post(f"{base}/uppercase", json={"s": 3}) as r:
        assert (r.status, (await r.json())["details"]["field"]) == (400, "$.s")
    async with http.post(f"{base}/nope", json={}) as r:
        assert r.status == 404
    async with http.get(f"{base}/count") as r:
        assert (r.status, r.headers["allow"]) == (405, "POST")
    async with http.put(f"{base}/addresses/{quoted}", json={"id": key}) as r:
        assert r.status == 200
    async with http.get(f"{base}/addresses/{quoted}") as r:
        assert await r.json() == {"id": key, "location": ""}
    async with connect(svc.AddressBook, base) as remote:
        assert await remote.get(key) == svc.Address(key)
        with pytest.raises(NotFound):
            await remote.get("c")


@pytest.mark.parametrize("server", ["uvicorn", "granian", "granian-asgi", "hypercorn"])
async def test_runs_unchanged_on_each_server(
    server: str, svc: SimpleNamespace, http: aiohttp.ClientSession
) -> None:
    events: list[str] = []
    app = App(
        svc.StringService(),
        svc.AddressBook(),
        on_startup=[lambda: events.append("start")],
        on_shutdown=[lambda: events.append("stop")],
    )
    # RSGI gives the path already decoded: an encoded "/" cannot be told from a "/" there.
    key = "a b" if server == "granian" else "a/b"
    async with running(app, server=server) as base:
        await check(http, base, svc, key)
        assert events == ["start"]
    assert events == ["start", "stop"]


async def test_mounts_in_starlette(svc: SimpleNamespace, http: aiohttp.ClientSession) -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("home")

    kit = App(svc.StringService(), svc.AddressBook())
    outer = Starlette(routes=[Route("/", home), Mount("/kit", app=kit)])
    async with running(outer) as base:
        async with http.get(f"{base}/") as r:
            assert await r.text() == "home"
        await check(http, f"{base}/kit", svc)


async def test_mounts_in_fastapi(svc: SimpleNamespace, http: aiohttp.ClientSession) -> None:
    from fastapi import FastAPI

    outer = FastAPI()

    @outer.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    outer.mount("/api", App(svc.StringService(), svc.AddressBook()))
    async with running(outer) as base:
        async with http.get(f"{base}/health") as r:
            assert await r.json() == {"status": "ok"}
        await check(http, f"{base}/api", svc)
