"""The ASGI server on a real uvicorn: routes, bad input, limits, deadlines, lifespan."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import aiohttp
import msgspec
import pytest
from kit_http import App, Request, Response
from kit_http.testing import running

from kitcore import InvalidArgument, context
from kitcore.errors import KitError

JSON = {"Content-Type": "application/json"}


async def post(http: aiohttp.ClientSession, url: str, body: Any, **kw: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else msgspec.json.encode(body)
    headers = kw.pop("headers", JSON)
    async with http.post(url, data=data, headers=headers, **kw) as r:
        return r.status, msgspec.json.decode(await r.read())


async def raw(port: int, request: bytes, *, read_timeout: float = 5.0) -> bytes:
    """Send raw bytes on a fresh connection; return everything read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), read_timeout)
    finally:
        writer.close()
        await writer.wait_closed()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_typed_methods_are_served_at_post_name(svc: SimpleNamespace, http: Any) -> None:
    async with running(App(svc.StringService())) as url:
        assert await post(http, f"{url}/uppercase", {"s": "hello, world"}) == (
            200,
            "HELLO, WORLD",
        )
        assert await post(http, f"{url}/count", {"s": "hello, world"}) == (200, 12)


async def test_curl_default_content_type_is_accepted(svc: SimpleNamespace, http: Any) -> None:
    # `curl -d` labels the body application/x-www-form-urlencoded; the tutorial relies on it.
    async with running(App(svc.StringService())) as url:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert await post(http, f"{url}/count", {"s": "abc"}, headers=form) == (200, 3)
        bare = {"headers": {}, "skip_auto_headers": ["Content-Type"]}
        assert await post(http, f"{url}/count", {"s": "abc"}, **bare) == (200, 3)
        charset = {"Content-Type": "application/json; charset=utf-8"}
        assert await post(http, f"{url}/count", {"s": "abc"}, headers=charset) == (200, 3)
        problem = {"Content-Type": "application/vnd.kit+json"}
        assert await post(http, f"{url}/count", {"s": "abc"}, headers=problem) == (200, 3)


async def test_service_error_is_its_typed_wire_form(svc: SimpleNamespace, http: Any) -> None:
    async with running(App(svc.StringService())) as url:
        status, body = await post(http, f"{url}/uppercase", {"s": ""})
    assert status == 400
    assert body == {"code": "invalid_argument", "message": "Empty string", "details": {}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"s": 1}', "$.s"),
        (b"{}", "$.s"),
        (b"", "$.s"),
        (b'{"t": "x"}', "$.s"),
        (b"[1, 2]", None),
        (b'{"s": "abc"', None),
        (b"\xff\xfe{", None),
        (b'{"s": "\x80"}', None),
        (b"[" * 5000 + b"]" * 5000, None),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(
    svc: SimpleNamespace, http: Any, body: bytes, field: str | None
) -> None:
    async with running(App(svc.StringService())) as url:
        status, error = await post(http, f"{url}/uppercase", body)
        assert status == 400
        assert error["code"] == "invalid_argument"
        assert error["details"].get("field") == field
        assert await post(http, f"{url}/uppercase", {"s": "ok"}) == (200, "OK")


async def test_unknown_path_404_and_wrong_method_405_with_allow(
    svc: SimpleNamespace, http: Any
) -> None:
    async with running(App(svc.StringService(), svc.AddressBook())) as url:
        async with http.post(f"{url}/nope", data=b"{}") as r:
            assert r.status == 404
            assert (await r.json())["code"] == "not_found"
        async with http.get(f"{url}/uppercase") as r:
            assert r.status == 405
            assert r.headers["Allow"] == "POST"
            assert (await r.json())["code"] == "method_not_allowed"
        async with http.post(f"{url}/addresses/a", data=b"{}") as r:
            assert r.status == 405
            assert r.headers["Allow"] == "DELETE, GET, PATCH, PUT"


async def test_wrong_content_type_is_415(svc: SimpleNamespace, http: Any) -> None:
    async with running(App(svc.StringService())) as url:
        for kind in ("text/xml", "multipart/form-data; boundary=x", "application/octet-stream"):
            status, error = await post(
                http, f"{url}/count", {"s": "a"}, headers={"Content-Type": kind}
            )
            assert status == 415
            assert error["code"] == "unsupported_media_type"
            assert error["details"]["content_type"] == kind.split(";")[0]


async def test_kit_client_raises_transport_codes_as_the_kind_of_their_status(
    svc: SimpleNamespace,
) -> None:
    from kit_http.client import ClientEndpoint

    from kitcore import InvalidArgument

    async with running(App(svc.StringService())) as url:
        for method, headers, status in (
            ("GET", None, 405),
            ("POST", {"Content-Type": "text/xml"}, 415),
        ):
            endpoint = ClientEndpoint(method, f"{url}/count", headers=headers)
            try:
                with pytest.raises(InvalidArgument) as caught:
                    await endpoint({"s": "a"})
                assert type(caught.value) is InvalidArgument, status
            finally:
                await endpoint.close()


async def test_body_over_limit_is_413_before_it_is_sent(svc: SimpleNamespace) -> None:
    async with running(App(svc.StringService(), max_body=100)) as url:
        # Only the headers are sent: the answer must not wait for the 1 MB body.
        head = (
            b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000\r\n\r\n"
        )
        reply = await raw(port_of(url), head)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in reply.lower()
    assert b'"limit":100' in reply


async def test_chunked_body_over_limit_is_413(svc: SimpleNamespace, http: Any) -> None:
    async def chunks() -> Any:
        yield b'{"s": "'
        for _ in range(20):
            yield b"x" * 100

    async with running(App(svc.StringService(), max_body=1000)) as url:
        async with http.post(f"{url}/count", data=chunks(), headers=JSON) as r:
            assert r.status == 413
        assert await post(http, f"{url}/count", {"s": "ab"}) == (200, 2)


async def test_default_limit_is_one_mib(svc: SimpleNamespace, http: Any) -> None:
    async with running(App(svc.StringService())) as url:
        fits = msgspec.json.encode({"s": "x" * (1024 * 1024 - 10)})
        assert await post(http, f"{url}/count", fits) == (200, 1024 * 1024 - 10)
        head = b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (1024 * 1024 + 1)
        assert (await raw(port_of(url), head)).startswith(b"HTTP/1.1 413 ")


async def test_stalled_body_times_out_without_blocking_others(
    svc: SimpleNamespace, http: Any
) -> None:
    async with running(App(svc.StringService(), body_timeout=0.4)) as url:
        stalled = asyncio.create_task(
            raw(
                port_of(url),
                b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b'{"s": "ab',
            )
        )
        await asyncio.sleep(0.05)
        # While that client stalls, others are served at once.
        for _ in range(5):
            assert await post(http, f"{url}/count", {"s": "abc"}) == (200, 3)
        assert not stalled.done()
        reply = await stalled
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in reply.lower()


async def test_client_leaving_mid_body_leaves_the_server_serving(
    svc: SimpleNamespace, http: Any
) -> None:
    finals: list[int] = []
    app = App(svc.StringService(), finalizer=lambda req, status, s: finals.append(status))
    async with running(app) as url:
        _, writer = await asyncio.open_connection("127.0.0.1", port_of(url))
        writer.write(b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()
        await writer.wait_closed()
        for _ in range(20):
            if finals:
                break
            await asyncio.sleep(0.02)
        assert await post(http, f"{url}/count", {"s": "abc"}) == (200, 3)
    assert finals[0] == 499


async def test_rest_routes_with_path_query_and_body(svc: SimpleNamespace, http: Any) -> None:
    async with running(App(svc.AddressBook())) as url:
        async with http.put(f"{url}/addresses/home", json={"id": "home", "location": "Main"}) as r:
            assert r.status == 200
        async with http.put(f"{url}/addresses/home", json={"id": "home"}) as r:
            assert r.status == 409
            assert (await r.json())["code"] == "already_exists"
        async with http.get(f"{url}/addresses/home") as r:
            assert await r.json() == {"id": "home", "location": "Main"}
        async with http.get(f"{url}/addresses/nowhere") as r:
            assert r.status == 404
        async with http.get(f"{url}/addresses?limit=1&tags=a&tags=b") as r:
            assert await r.json() == ["home", "tag:a", "tag:b"]
        async with http.get(f"{url}/addresses?limit=many") as r:
            assert r.status == 400
            assert (await r.json())["details"]["field"] == "$.limit"
        async with http.patch(f"{url}/addresses/home", json={"location": "High", "number": 7}) as r:
            assert await r.json() == {"id": "home", "location": "High 7"}
        async with http.patch(f"{url}/addresses/home", json={"number": 7}) as r:
            assert r.status == 400
            assert (await r.json())["details"]["field"] == "$.location"
        async with http.put(f"{url}/addresses/work", data=b"", headers=JSON) as r:
            assert r.status == 400
        async with http.delete(f"{url}/addresses/home") as r:
            assert r.status == 200
        async with http.delete(f"{url}/addresses/home") as r:
            assert r.status == 404


async def test_percent_encoded_path_parameters(svc: SimpleNamespace, http: Any) -> None:
    book = svc.AddressBook()
    book.addresses["a b/c"] = svc.Address(id="a b/c")
    async with running(App(book)) as url, http.get(f"{url}/addresses/a%20b") as r:
        assert r.status == 404
        assert "'a b'" in (await r.json())["message"]


async def test_explicit_decode_and_encode(http: Any) -> None:
    class UppercaseRequest(msgspec.Struct):
        s: str

    def decode(request: Request) -> UppercaseRequest:
        return msgspec.json.decode(request.body, type=UppercaseRequest)

    async def decode_async(request: Request) -> UppercaseRequest:
        return decode(request)

    def encode(response: Any) -> Response:
        return Response(msgspec.json.encode(response), 201, [("x-kind", "explicit")])

    async def uppercase(request: UppercaseRequest) -> dict[str, str]:
        return {"v": request.s.upper()}

    app = App()
    app.route("POST /uppercase", uppercase, decode=decode, encode=encode)
    app.route("POST /async", uppercase, decode=decode_async)
    app.route("POST /typed", uppercase, request_type=UppercaseRequest)
    async with running(app) as url:
        async with http.post(f"{url}/uppercase", data=b'{"s":"hi"}', headers=JSON) as r:
            assert (r.status, r.headers["x-kind"], await r.json()) == (201, "explicit", {"v": "HI"})
        assert await post(http, f"{url}/async", {"s": "a"}) == (200, {"v": "A"})
        assert await post(http, f"{url}/typed", {"s": "b"}) == (200, {"v": "B"})
        status, error = await post(http, f"{url}/uppercase", {"s": 5})
        assert (status, error["details"]["field"]) == (400, "$.s")
    assert app.routes() == ["POST /uppercase", "POST /async", "POST /typed"]


async def test_endpoint_mapping_takes_any_json(http: Any) -> None:
    async def echo(request: Any) -> Any:
        return {"got": request}

    async with running(App({"echo": echo}, prefix="/v1")) as url:
        assert await post(http, f"{url}/v1/echo", [1, "a"]) == (200, {"got": [1, "a"]})
        assert await post(http, f"{url}/v1/echo", b"") == (200, {"got": {}})


async def test_unexpected_error_is_500_without_its_text(
    svc: SimpleNamespace, http: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(App(svc.StringService())) as url:
        status, error = await post(http, f"{url}/boom", {})
    assert status == 500
    assert error == {"code": "internal", "message": "internal error", "details": {}}
    assert "secret" not in str(error)
    assert any("unexpected error" in r.message for r in caplog.records)


async def test_options_before_after_error_handler_finalizer(
    svc: SimpleNamespace, http: Any
) -> None:
    seen: list[tuple[str, Any]] = []

    def before(request: Request) -> dict[str, Any]:
        return {"user": request.headers.get("x-user"), "path": request.path}

    def after(request: Request, response: Response) -> None:
        response.headers.append(("x-served-by", "kit"))

    def error_handler(request: Request, error: BaseException) -> None:
        seen.append(("error", type(error).__name__))

    def finalizer(request: Request, status: int, seconds: float) -> None:
        assert seconds >= 0
        seen.append(("final", (request.path, status)))

    app = App(
        svc.StringService(),
        before=before,
        after=[after],
        error_handler=error_handler,
        finalizer=finalizer,
    )
    async with running(app) as url:
        async with http.post(f"{url}/value", json={"key": "user"}, headers={"X-User": "ann"}) as r:
            assert (await r.json(), r.headers["x-served-by"]) == ("ann", "kit")
        assert await post(http, f"{url}/value", {"key": "path"}) == (200, "/value")
        assert (await post(http, f"{url}/uppercase", {"s": ""}))[0] == 400
        assert (await post(http, f"{url}/missing", {}))[0] == 404
    assert seen == [
        ("final", ("/value", 200)),
        ("final", ("/value", 200)),
        ("error", "InvalidArgument"),
        ("final", ("/uppercase", 400)),
        ("error", "RouteNotFound"),
        ("final", ("/missing", 404)),
    ]


async def test_custom_error_encoder_and_failing_before(svc: SimpleNamespace, http: Any) -> None:
    def error_encoder(request: Request, error: BaseException) -> Response:
        return Response(b'{"oops": true}', 418, [("x-error", type(error).__name__)])

    def before(request: Request) -> None:
        if "x-deny" in request.headers:
            raise InvalidArgument("denied")

    app = App(svc.StringService(), error_encoder=error_encoder, before=before)
    async with running(app) as url:
        async with http.post(f"{url}/uppercase", json={"s": ""}) as r:
            assert (r.status, r.headers["x-error"], await r.json()) == (
                418,
                "InvalidArgument",
                {"oops": True},
            )
        async with http.post(f"{url}/count", json={"s": "a"}, headers={"x-deny": "1"}) as r:
            assert r.status == 418


async def test_per_route_options_override_the_app_ones(svc: SimpleNamespace, http: Any) -> None:
    app = App(max_body=10)
    app.add(svc.StringService(), prefix="/big", max_body=1000)
    app.add(svc.StringService(), prefix="/small")
    async with running(app) as url:
        assert await post(http, f"{url}/big/count", {"s": "x" * 50}) == (200, 50)
        assert (await post(http, f"{url}/small/count", {"s": "x" * 50}))[0] == 413


async def test_middlewares_wrap_each_endpoint(svc: SimpleNamespace, http: Any) -> None:
    calls: list[str] = []

    def named(name: str) -> Any:
        def middleware(next_: Any) -> Any:
            async def endpoint(request: Any) -> Any:
                calls.append(name)
                return await next_(request)

            return endpoint

        return middleware

    def shout(next_: Any) -> Any:
        async def endpoint(request: Any) -> Any:
            return f"{await next_(request)}!"

        return endpoint

    app = App(svc.StringService(), middleware=shout, named_middleware=named)
    async with running(app) as url:
        assert await post(http, f"{url}/uppercase", {"s": "a"}) == (200, "A!")
        assert await post(http, f"{url}/count", {"s": "ab"}) == (200, "2!")
    assert calls == ["uppercase", "count"]


async def test_caller_deadline_header_bounds_the_call(svc: SimpleNamespace, http: Any) -> None:
    async with running(App(svc.StringService())) as url:
        status, left = await post(
            http, f"{url}/sleep", {"seconds": 0}, headers={**JSON, "Kit-Timeout": "5000"}
        )
        assert status == 200
        assert 4 < left <= 5
        status, error = await post(
            http, f"{url}/sleep", {"seconds": 5}, headers={**JSON, "Kit-Timeout": "50"}
        )
        assert (status, error["code"]) == (504, "deadline_exceeded")
        status, error = await post(
            http, f"{url}/sleep", {"seconds": 0}, headers={**JSON, "Kit-Timeout": "soon"}
        )
        assert (status, error["details"]["header"]) == (400, "Kit-Timeout")
        assert await post(http, f"{url}/sleep", {"seconds": 0}) == (200, None)


async def test_server_timeout_caps_the_caller_deadline(svc: SimpleNamespace, http: Any) -> None:
    async with running(App(svc.StringService(), timeout=0.5)) as url:
        status, left = await post(
            http, f"{url}/sleep", {"seconds": 0}, headers={**JSON, "Kit-Timeout": "60000"}
        )
        assert status == 200
        assert 0 < left <= 0.5
        assert 0 < (await post(http, f"{url}/sleep", {"seconds": 0}))[1] <= 0.5
        assert (await post(http, f"{url}/sleep", {"seconds": 3}))[0] == 504


async def test_lifespan_hooks_run(svc: SimpleNamespace, http: Any) -> None:
    events: list[str] = []

    async def stop() -> None:
        events.append("stop")

    app = App(svc.StringService(), on_startup=[lambda: events.append("start")], on_shutdown=[stop])
    async with running(app) as url:
        assert events == ["start"]
        assert await post(http, f"{url}/count", {"s": "a"}) == (200, 1)
    assert events == ["start", "stop"]


async def test_drain_finishes_in_flight_and_refuses_new(svc: SimpleNamespace) -> None:
    app = App(svc.StringService())
    async with running(app) as url, aiohttp.ClientSession() as a, aiohttp.ClientSession() as b:
        slow = asyncio.create_task(post(a, f"{url}/sleep", {"seconds": 0.3}))
        while app.inflight == 0:  # noqa: ASYNC110 (a counter, not an event)
            await asyncio.sleep(0.01)
        drained = asyncio.create_task(app.drain(5))
        await asyncio.sleep(0.05)
        status, error = await post(b, f"{url}/count", {"s": "a"})
        assert (status, error["code"]) == (503, "unavailable")
        assert not drained.done()
        assert await slow == (200, None)
        assert await drained is True
        assert app.draining


async def test_drain_reports_a_timeout(svc: SimpleNamespace, http: Any) -> None:
    app = App(svc.StringService())
    async with running(app) as url:
        slow = asyncio.create_task(post(http, f"{url}/sleep", {"seconds": 0.5}))
        while app.inflight == 0:  # noqa: ASYNC110 (a counter, not an event)
            await asyncio.sleep(0.01)
        assert await app.drain(0.05) is False
        await slow


async def test_server_shutdown_lets_in_flight_requests_finish(svc: SimpleNamespace) -> None:
    from kit_http.serve import serve

    from kitcore.testing.services import free_port

    port = free_port()
    started = asyncio.Event()
    server = asyncio.create_task(
        serve(App(svc.StringService()), f"127.0.0.1:{port}", started=lambda h, p: started.set())
    )
    await started.wait()
    async with aiohttp.ClientSession() as http:
        slow = asyncio.create_task(post(http, f"http://127.0.0.1:{port}/sleep", {"seconds": 1}))
        await asyncio.sleep(0.1)
        server.cancel()
        await asyncio.sleep(0.4)  # uvicorn looks at its exit flag every 0.1 s
        with pytest.raises(aiohttp.ClientConnectionError):
            await post(http, f"http://127.0.0.1:{port}/count", {"s": "a"}, headers={})
        assert await slow == (200, None)
    with pytest.raises(asyncio.CancelledError):
        await server


async def test_requests_in_context_do_not_leak_between_requests(
    svc: SimpleNamespace, http: Any
) -> None:
    def before(request: Request) -> dict[str, Any] | None:
        user = request.headers.get("x-user")
        return {"user": user} if user else None

    async with running(App(svc.StringService(), before=before)) as url:
        async with http.post(f"{url}/value", json={"key": "user"}, headers={"x-user": "a"}) as r:
            assert await r.json() == "a"
        assert await post(http, f"{url}/value", {"key": "user"}) == (200, None)
        assert context.get("user") is None


def test_bad_options_are_rejected_at_build_time(svc: SimpleNamespace) -> None:
    with pytest.raises(TypeError, match="unknown server option"):
        App(svc.StringService(), max_bodyy=3)
    with pytest.raises(ValueError, match="max_body"):
        App(max_body=-1)
    with pytest.raises(ValueError, match="timeout"):
        App(timeout=0)
    with pytest.raises(ValueError, match="body_timeout"):
        App(body_timeout=0)
    with pytest.raises(TypeError, match="instance"):
        App(svc.StringService)
    app = App(svc.StringService())
    with pytest.raises(ValueError, match="twice"):
        app.add(svc.StringService())


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
async def test_requests_refused_before_the_endpoint_reach_the_rejected_hook(
    svc: SimpleNamespace, http: Any, server: str
) -> None:
    # Issue 10: a body that does not decode never reaches the endpoint's middleware.
    seen: list[tuple[str, str, int]] = []
    reached: list[str] = []

    def rejected(name: str, request: Request, error: BaseException) -> None:
        assert isinstance(error, KitError)
        seen.append((name, request.path, error.http_status))

    def middleware(next_: Any) -> Any:
        async def endpoint(request: Any) -> Any:
            reached.append("called")
            return await next_(request)

        return endpoint

    app = App(rejected=rejected)
    app.add_service(svc.StringService(), middleware=middleware)
    app.route("POST /echo", _echo, request_type=dict[str, int])
    async with running(app, server) as url:
        assert (await post(http, f"{url}/count", {"s": 5}))[0] == 400
        assert (await post(http, f"{url}/count", {"s": "abc"})) == (200, 3)
        async with http.post(f"{url}/count", data=b"{", headers=JSON) as r:
            assert r.status == 400
        async with http.post(f"{url}/count", data=b"{}", headers={"Content-Type": "text/csv"}) as r:
            assert r.status == 415
        assert (await post(http, f"{url}/echo", {"a": "b"}))[0] == 400
    assert seen == [
        ("count", "/count", 400),
        ("count", "/count", 400),
        ("count", "/count", 415),
        ("POST /echo", "/echo", 400),
    ]
    assert reached == ["called"]  # only the good call reached the middleware


async def _echo(request: Any) -> Any:
    return request
