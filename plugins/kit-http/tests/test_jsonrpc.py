"""JSON-RPC 2.0 on a real uvicorn server: the specification's wire, typed errors, deadlines."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import aiohttp
import msgspec
import pytest
from kit_http import App, jsonrpc
from kit_http.jsonrpc import ClientEndpoint, EndpointCodec, InvalidParams, MethodNotFound
from kit_http.jsonrpc.errors import from_error_object
from kit_http.testing import running

from kitcore import (
    DeadlineExceeded,
    Internal,
    InvalidArgument,
    NotFound,
    Unavailable,
    connect,
    context,
)
from kitcore.testing.services import free_port

JSON = {"Content-Type": "application/json"}


async def post(http: aiohttp.ClientSession, url: str, body: Any, **headers: str) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(url, data=data, headers={**JSON, **headers}) as r:
        raw = await r.read()
        return r.status, (json.loads(raw) if raw else None)


def call(method: str, params: Any = None, id_: Any = 1) -> dict[str, Any]:
    out: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        out["params"] = params
    if id_ is not ...:
        out["id"] = id_
    return out


class Pair(msgspec.Struct):
    """Go kit style explicit params."""

    x: int
    y: int


class Counter:
    """Counts calls, to see that notifications run."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.seen = asyncio.Event()

    async def hit(self, name: str) -> int:
        """Record one hit."""
        self.hits.append(name)
        self.seen.set()
        return len(self.hits)


async def test_calls_by_name_and_by_position_echo_every_id_form(
    svc: SimpleNamespace, http: aiohttp.ClientSession
) -> None:
    async with running(jsonrpc.app(svc.StringService())) as url:
        assert await post(http, url, call("uppercase", {"s": "ab"})) == (
            200,
            {"jsonrpc": "2.0", "result": "AB", "id": 1},
        )
        for id_ in ("x7", 0, -3, 1.5, None, 12345678901234567890):
            status, body = await post(http, url, call("count", ["abc"], id_))
            assert (status, body) == (200, {"jsonrpc": "2.0", "result": 3, "id": id_})
        # The id is echoed byte for byte, not re-encoded.
        async with http.post(
            url, data=b'{"jsonrpc":"2.0","method":"count","params":["a"],"id":1.50}', headers=JSON
        ) as r:
            assert await r.read() == b'{"jsonrpc":"2.0","result":1,"id":1.50}'


async def test_go_kits_empty_jsonrpc_member_is_accepted_and_others_refused(
    svc: SimpleNamespace, http: aiohttp.ClientSession
) -> None:
    async with running(jsonrpc.app(svc.StringService())) as url:
        go_kit = {"jsonrpc": "", "method": "count", "params": {"s": "ab"}, "id": 0}
        assert (await post(http, url, go_kit))[1]["result"] == 2
        for version in ("1.0", 2.0, None, ["2.0"], {"v": 1}):
            status, body = await post(http, url, {**go_kit, "jsonrpc": version})
            assert status == 200
            assert body["error"]["code"] == -32600 and body["id"] == 0
        missing = {"method": "count", "params": {"s": "ab"}, "id": 4}
        assert (await post(http, url, missing))[1]["error"]["code"] == -32600


@pytest.mark.parametrize(
    ("body", "code", "id_"),
    [
        (b'{"jsonrpc":"2.0","method":"count",', -32700, None),
        (b"", -32700, None),
        (b"\xff\xfe", -32700, None),
        (b"3", -32600, None),
        (b'"count"', -32600, None),
        (b"[]", -32600, None),
        (b'{"jsonrpc":"2.0","id":2}', -32600, 2),
        (b'{"jsonrpc":"2.0","method":7,"id":2}', -32600, 2),
        (b'{"jsonrpc":"2.0","method":"count","params":"abc","id":2}', -32600, 2),
        (b'{"jsonrpc":"2.0","method":"count","params":{"s":"a"},"id":true}', -32600, None),
        (b'{"jsonrpc":"2.0","method":"count","params":{"s":"a"},"id":{"a":1}}', -32600, None),
        (b'{"jsonrpc":"2.0","method":"nope","id":3}', -32601, 3),
        (b'{"jsonrpc":"2.0","method":"count","params":{"s":1},"id":4}', -32602, 4),
        (b'{"jsonrpc":"2.0","method":"count","params":{},"id":4}', -32602, 4),
        (b'{"jsonrpc":"2.0","method":"count","params":["a","b"],"id":4}', -32602, 4),
        (b'{"jsonrpc":"2.0","method":"uppercase","params":{"s":""},"id":5}', -32003, 5),
        (b'{"jsonrpc":"2.0","method":"boom","id":6}', -32603, 6),
    ],
)
async def test_standard_error_codes(
    svc: SimpleNamespace, http: aiohttp.ClientSession, body: bytes, code: int, id_: Any
) -> None:
    async with running(jsonrpc.app(svc.StringService())) as url:
        status, reply = await post(http, url, body)
    assert status == 200
    assert reply["jsonrpc"] == "2.0" and reply["id"] == id_ and "result" not in reply
    error = reply["error"]
    assert error["code"] == code
    assert set(error["data"]) == {"code", "message", "details"}
    assert "secret" not in json.dumps(reply)


async def test_unexpected_errors_leak_nothing(
    svc: SimpleNamespace, http: aiohttp.ClientSession
) -> None:
    async with running(jsonrpc.app(svc.StringService())) as url:
        _, reply = await post(http, url, call("boom"))
    assert reply["error"] == {
        "code": -32603,
        "message": "internal error",
        "data": {"code": "internal", "message": "internal error", "details": {}},
    }


async def test_notifications_run_and_get_no_reply(http: aiohttp.ClientSession) -> None:
    counter = Counter()
    async with running(jsonrpc.app(counter)) as url:
        async with http.post(url, data=json.dumps(call("hit", ["n1"], ...)), headers=JSON) as r:
            assert (r.status, await r.read()) == (204, b"")
        batch = [call("hit", ["n2"], ...), call("hit", ["n3"], ...), call("nope", [], ...)]
        async with http.post(url, data=json.dumps(batch), headers=JSON) as r:
            assert (r.status, await r.read()) == (204, b"")
        # A failing notification is not answered either.
        async with http.post(url, data=json.dumps(call("hit", [1], ...)), headers=JSON) as r:
            assert (r.status, await r.read()) == (204, b"")
    assert sorted(counter.hits) == ["n1", "n2", "n3"]


async def test_batches_answer_each_request_but_no_notification(
    svc: SimpleNamespace, http: aiohttp.ClientSession
) -> None:
    batch: list[Any] = [
        call("uppercase", {"s": "a"}, "u"),
        call("count", ["abcd"], ...),
        1,
        call("nope", None, 9),
        call("uppercase", {"s": ""}, 10),
        [call("count", ["a"], 11)],
    ]
    async with running(jsonrpc.app(svc.StringService())) as url:
        status, replies = await post(http, url, batch)
    assert status == 200
    by_id = {json.dumps(r["id"]): r for r in replies if r["id"] is not None}
    assert len(replies) == 5
    assert by_id['"u"']["result"] == "A"
    assert by_id["9"]["error"]["code"] == -32601
    assert by_id["10"]["error"]["data"]["code"] == "invalid_argument"
    assert [r["error"]["code"] for r in replies if r["id"] is None] == [-32600, -32600]


async def test_batches_run_concurrently_and_are_bounded(
    svc: SimpleNamespace, http: aiohttp.ClientSession
) -> None:
    # Two calls that each wait for the other finish only if they run at once.
    gate = asyncio.Barrier(2) if hasattr(asyncio, "Barrier") else None
    if gate is None:
        pytest.skip("asyncio.Barrier needs Python 3.11")

    async def meet(request: Any) -> str:
        await asyncio.wait_for(gate.wait(), 5)
        return "met"

    async with running(jsonrpc.app({"meet": meet}, max_batch=2)) as url:
        status, replies = await post(http, url, [call("meet", None, 1), call("meet", None, 2)])
        assert status == 200 and [r["result"] for r in replies] == ["met", "met"]
        _, reply = await post(http, url, [call("meet", None, i) for i in range(3)])
    assert reply["error"]["code"] == -32600
    assert reply["error"]["data"]["details"] == {"max_batch": 2}


async def test_oversized_bodies_and_wrong_requests_are_refused_as_kit_http_does(
    svc: SimpleNamespace, http: aiohttp.ClientSession
) -> None:
    async with running(jsonrpc.app(svc.StringService(), max_body=1000)) as url:
        big = json.dumps(call("count", ["x" * 5000])).encode()
        async with http.post(url, data=big, headers=JSON) as r:
            assert r.status == 413 and r.headers["Connection"] == "close"
            reply = await r.json()
        assert reply["error"]["code"] == -32600 and reply["id"] is None
        assert reply["error"]["data"]["details"] == {"limit": 1000}
        async with http.get(url) as r:
            assert (r.status, r.headers["Allow"]) == (405, "POST")
            assert (await r.json())["error"]["code"] == -32600
        async with http.post(url, data=b"{}", headers={"Content-Type": "text/plain"}) as r:
            assert r.status == 415
        async with http.post(f"{url}/elsewhere", data=b"{}", headers=JSON) as r:
            assert r.status == 404
            assert (await r.json())["error"]["data"]["code"] == "not_found"


async def test_kit_timeout_header_bounds_the_calls(
    svc: SimpleNamespace, http: aiohttp.ClientSession
) -> None:
    async with running(jsonrpc.app(svc.StringService())) as url:
        _, reply = await post(http, url, call("sleep", [0]), **{"Kit-Timeout": "3000"})
        assert 0 < reply["result"] <= 3
        status, reply = await post(http, url, call("sleep", [5]), **{"Kit-Timeout": "50"})
        assert status == 504
        assert reply["error"]["code"] == -32004
        assert reply["error"]["data"]["code"] == "deadline_exceeded"
        status, reply = await post(http, url, call("sleep", [0]), **{"Kit-Timeout": "soon"})
        assert status == 400 and reply["error"]["code"] == -32600


async def test_connect_raises_the_servers_typed_errors(svc: SimpleNamespace) -> None:
    async with running(jsonrpc.app(svc.StringService(), path="/rpc")) as url:
        target = url.replace("http://", "jsonrpc://") + "/rpc"
        async with connect(svc.StringService, target) as client:
            assert await client.uppercase("hi") == "HI"
            assert await client.count("four") == 4
            with pytest.raises(InvalidArgument) as caught:
                await client.uppercase("")
            assert (caught.value.message, caught.value.details) == ("Empty string", {})
            with pytest.raises(Internal, match="internal error"):
                await client.boom()
            with context.timeout(2.0):
                left = await client.sleep(0)
            assert left is not None and 0 < left <= 2.0
            with pytest.raises(DeadlineExceeded), context.timeout(0.05):
                await client.sleep(3)


async def test_connect_with_discovery_and_the_jsonrpc_transport(svc: SimpleNamespace) -> None:
    async with running(jsonrpc.app(svc.StringService(), path="/rpc")) as url:
        instance = url.removeprefix("http://")
        async with connect(
            svc.StringService, f"static://{instance}", transport="jsonrpc", path="/rpc"
        ) as client:
            assert await client.uppercase("sd") == "SD"


async def test_server_mounts_beside_kit_http_routes(
    svc: SimpleNamespace, http: aiohttp.ClientSession
) -> None:
    app = App(svc.StringService())
    jsonrpc.Server(svc.StringService()).mount(app, "/rpc")
    async with running(app) as url:
        async with http.post(f"{url}/uppercase", json={"s": "rest"}) as r:
            assert await r.json() == "REST"
        assert (await post(http, f"{url}/rpc", call("uppercase", {"s": "rpc"})))[1][
            "result"
        ] == "RPC"
    assert "POST /rpc" in app.routes()


async def test_explicit_endpoint_codecs_and_client_endpoint() -> None:
    """Go kit's style: your own params decoder and result encoder, one method per client."""

    async def add(request: tuple[int, int]) -> int:
        a, b = request
        if a < 0:
            raise NotFound("negative", details={"a": a})
        return a + b

    def decode_pair(params: bytes) -> tuple[int, int]:
        pair = msgspec.json.decode(params, type=Pair)  # its errors are Invalid params
        return pair.x, pair.y

    codecs = {"add": EndpointCodec(add, decode_pair, lambda v: json.dumps({"sum": v}).encode())}
    async with running(jsonrpc.app(codecs)) as url:
        client = ClientEndpoint(
            url,
            "add",
            encode=lambda pair: json.dumps({"x": pair[0], "y": pair[1]}).encode(),
            decode=lambda raw: json.loads(raw)["sum"],
        )
        try:
            assert await client((2, 3)) == 5
            with pytest.raises(NotFound) as caught:
                await client((-1, 3))
            assert caught.value.details == {"a": -1}
            await client.notify((1, 1))
            other = ClientEndpoint(url, "mul")
            with pytest.raises(MethodNotFound):
                await other({})
            await other.close()
            bad = ClientEndpoint(url, "add", encode=lambda _: b"[1]")
            with pytest.raises(InvalidParams):
                await bad(None)
            await bad.close()
        finally:
            await client.close()


async def test_client_failures_are_typed() -> None:
    client = ClientEndpoint(f"http://127.0.0.1:{free_port()}", "x")
    with pytest.raises(Unavailable):
        await client({})
    await client.close()


def test_foreign_error_objects_map_by_code() -> None:
    # Go kit sends no data: the code decides.
    go_kit = from_error_object({"code": -32000, "message": "couldn't unmarshal"})
    assert type(go_kit) is Internal and go_kit.details == {"jsonrpc_code": -32000}
    assert type(from_error_object({"code": -32601, "message": "m"})) is MethodNotFound
    assert type(from_error_object({"code": -32005, "message": "m"})) is NotFound
    limited = from_error_object({"code": -32603, "message": "rate limit exceeded", "data": 7})
    assert type(limited) is Internal and limited.details["data"] == 7
    assert type(from_error_object("junk")) is Internal


async def test_the_jsonrpc_transports_server_hook(svc: SimpleNamespace) -> None:
    from kitcore.plugins import plugins

    serve = plugins().backend("transports", "jsonrpc").meta["server"]
    port = free_port()
    started = asyncio.Event()
    task = asyncio.create_task(
        serve(
            svc.StringService(),
            f"jsonrpc://127.0.0.1:{port}/rpc",
            started=lambda h, p: started.set(),
        )
    )
    try:
        await asyncio.wait_for(started.wait(), 15)
        async with connect(svc.StringService, f"jsonrpc://127.0.0.1:{port}/rpc") as client:
            assert await client.uppercase("hook") == "HOOK"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
