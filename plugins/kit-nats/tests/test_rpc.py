"""Request-reply over the real NATS server: typed calls, Go kit's options, bad input, drain."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from kit_nats.client import Publisher
from kit_nats.server import Subscriber
from nats.aio.client import Client

import kitcore
from kitcore import InvalidArgument, NotFound, Unavailable
from kitcore.messaging.rpc import ERROR_HEADER, TIMEOUT_HEADER, Message, Reply
from kitcore.plugins import plugins
from kitcore.testing.messaging import EchoService, check_typed_calls, until


async def test_typed_client_conformance(nc: Client, subject: str, url: str) -> None:
    service = EchoService()
    async with Subscriber(nc, subject, service), kitcore.connect(EchoService, url) as client:
        await check_typed_calls(client, service)


async def test_registered_in_plugins() -> None:
    backend = plugins().backend("transports", "nats")
    assert backend.plugin == "kit-nats" and backend.meta["server"] is not None


def _wire(reply: Any) -> dict[str, Any]:
    assert reply.headers and ERROR_HEADER in reply.headers, reply.headers
    wire: dict[str, Any] = msgspec.json.decode(reply.data)
    assert wire["code"] == reply.headers[ERROR_HEADER]
    return wire


async def test_bad_input_gets_typed_replies_and_serving_goes_on(nc: Client, subject: str) -> None:
    seen: list[BaseException] = []
    options = {"max_payload": 1000, "error_handler": lambda m, e: seen.append(e)}
    async with Subscriber(nc, subject, EchoService(), **options):
        reply = await nc.request(f"{subject}.uppercase", b"{not json", timeout=5)
        assert _wire(reply)["code"] == "invalid_argument"
        reply = await nc.request(f"{subject}.uppercase", b'{"s": 5}', timeout=5)
        wire = _wire(reply)
        assert wire["code"] == "invalid_argument" and wire["details"]["field"] == "$.s"
        reply = await nc.request(f"{subject}.nope", b"{}", timeout=5)
        wire = _wire(reply)
        assert wire["code"] == "not_found" and "uppercase" in wire["details"]["methods"]
        reply = await nc.request(
            f"{subject}.uppercase", b'{"s": "' + b"x" * 2000 + b'"}', timeout=5
        )
        assert _wire(reply)["code"] == "invalid_argument"
        reply = await nc.request(
            f"{subject}.uppercase", b'{"s": "a"}', timeout=5, headers={TIMEOUT_HEADER: "soon"}
        )
        assert _wire(reply)["details"] == {"header": TIMEOUT_HEADER}
        await nc.publish(f"{subject}.uppercase", b'{"s": "no reply subject"}')
        await nc.flush()
        await until(lambda: any("reply subject" in str(e) for e in seen))
        reply = await nc.request(f"{subject}.uppercase", b'{"s": "still up"}', timeout=5)
        assert msgspec.json.decode(reply.data) == "STILL UP"
    assert len(seen) == 6


async def test_server_options_like_go_kit(nc: Client, subject: str) -> None:
    finals: list[tuple[str, str | None]] = []

    def before(message: Message) -> dict[str, str]:
        return {"user": message.headers.get("X-User", "")}

    def after(message: Message, reply: Reply) -> None:
        reply.headers["X-Served-By"] = "test"

    def error_encoder(message: Message, error: BaseException) -> Reply:
        return Reply(b'{"code": "not_found", "message": "custom"}', {ERROR_HEADER: "not_found"})

    def finalizer(message: Message, error: BaseException | None, seconds: float) -> None:
        finals.append((message.method, None if error is None else type(error).__name__))

    async with Subscriber(
        nc,
        subject,
        EchoService(),
        before=before,
        after=after,
        error_encoder=error_encoder,
        finalizer=finalizer,
    ):
        ask = Publisher(
            nc,
            f"{subject}.context_value",
            before=lambda h: h.update({"X-User": "ann"}),
            after=lambda reply: finals.append(("after", reply.headers.get("X-Served-By"))),
        )
        assert await ask({"key": "user"}) == "ann"
        with pytest.raises(NotFound, match="custom"):
            await Publisher(nc, f"{subject}.crash")({})
    assert ("after", "test") in finals
    assert ("context_value", None) in finals and ("crash", "RuntimeError") in finals


async def test_publisher_timeout_and_no_responders(nc: Client, subject: str) -> None:
    with pytest.raises(Unavailable, match="no responders"):
        await Publisher(nc, f"{subject}.uppercase")({"s": "x"})
    async with Subscriber(nc, subject, EchoService()):
        with pytest.raises(kitcore.DeadlineExceeded):
            await Publisher(nc, f"{subject}.slow", timeout=0.2)({"seconds": 5})


async def test_queue_group_shares_the_load(nc: Client, subject: str) -> None:
    served: list[str] = []

    def mark(name: str) -> Any:
        return lambda message, error, seconds: served.append(name)

    async with (
        Subscriber(nc, subject, EchoService(), finalizer=mark("a")),
        Subscriber(nc, subject, EchoService(), finalizer=mark("b")),
    ):
        call = Publisher(nc, f"{subject}.uppercase")
        results = await asyncio.gather(*(call({"s": str(i)}) for i in range(40)))
    assert results == [str(i) for i in range(40)]
    assert len(served) == 40  # each request went to one instance only
    assert {"a", "b"} <= set(served)


async def test_stop_drains_in_flight_calls(nc: Client, subject: str) -> None:
    service = EchoService()
    subscriber = Subscriber(nc, subject, service)
    await subscriber.start()
    call = asyncio.create_task(Publisher(nc, f"{subject}.slow")({"seconds": 0.5}))
    await asyncio.wait_for(service.started.wait(), 5)
    await subscriber.stop()
    # The call was finished and its reply flushed before stop returned; it is on its way.
    assert await asyncio.wait_for(call, 5) == "done"
    with pytest.raises(Unavailable):
        await Publisher(nc, f"{subject}.uppercase")({"s": "x"})
    assert not service.cancelled.is_set()


async def test_calls_that_wait_hold_up_no_other_up_to_concurrency(nc: Client, subject: str) -> None:
    async with Subscriber(nc, subject, EchoService(), concurrency=3):
        slow = Publisher(nc, f"{subject}.slow")
        waiting = [asyncio.create_task(slow({"seconds": 1.5})) for _ in range(2)]
        await asyncio.sleep(0.1)
        # Two of three workers wait; the third serves these one after the other.
        upper = Publisher(nc, f"{subject}.uppercase")
        assert [await upper({"s": f"x{n}"}) for n in range(5)] == [f"X{n}" for n in range(5)]
        assert not any(task.done() for task in waiting)
        # Two more slow calls share the last worker: the second waits for the first.
        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(slow({"seconds": 0.2}) for _ in range(2)))
        assert asyncio.get_running_loop().time() - started >= 0.38
        assert not any(task.done() for task in waiting)
        assert await asyncio.gather(*waiting) == ["done", "done"]


async def test_oversize_reply_is_a_typed_error(nc: Client, subject: str) -> None:
    limit = nc.max_payload
    async with Subscriber(nc, subject, EchoService(), max_payload=limit * 2):
        with pytest.raises(InvalidArgument, match="reply not sent"):
            await Publisher(nc, f"{subject}.pair")({"s": "x", "repeat": limit + 1})


async def test_connect_before_edits_each_requests_headers(
    nc: Client, subject: str, url: str
) -> None:
    # The hook a tracer injects its context with: called per request, on its headers.
    def read(message: Message) -> dict[str, str]:
        return {"trace": message.headers.get("traceparent", "")}

    n = iter(range(100))

    def inject(headers: dict[str, str]) -> None:
        headers["traceparent"] = f"00-{next(n):032x}-{1:016x}-01"

    async with (
        Subscriber(nc, subject, EchoService(), before=read),
        kitcore.connect(EchoService, url, before=inject) as client,
    ):
        first = await client.context_value("trace")
        second = await client.context_value("trace")
    assert (first, second) == (f"00-{0:032x}-{1:016x}-01", f"00-{1:032x}-{1:016x}-01")
