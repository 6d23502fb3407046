"""Request-reply over the real RabbitMQ: typed calls, Go kit's options, bad input, drain."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aio_pika
import msgspec
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from kit_amqp.client import Publisher
from kit_amqp.connection import text_headers
from kit_amqp.server import Subscriber

import kitcore
from kitcore import NotFound, Unavailable
from kitcore.messaging.rpc import ERROR_HEADER, METHOD_HEADER, TIMEOUT_HEADER, Message, Reply
from kitcore.plugins import plugins
from kitcore.testing.messaging import EchoService, check_typed_calls, until


async def test_typed_client_conformance(
    conn: AbstractRobustConnection, queue: str, url: str
) -> None:
    service = EchoService()
    async with Subscriber(conn, queue, service), kitcore.connect(EchoService, url) as client:
        await check_typed_calls(client, service)


async def test_registered_in_plugins() -> None:
    backend = plugins().backend("transports", "amqp")
    assert backend.plugin == "kit-amqp" and backend.meta["server"] is not None


class RawClient:
    """Requests by hand: whatever headers and body, with or without reply_to."""

    def __init__(self, channel: Any, replies: Any) -> None:
        self.channel = channel
        self.replies = replies
        self.waiting: dict[str, asyncio.Future[AbstractIncomingMessage]] = {}

    @classmethod
    async def open(cls, conn: AbstractRobustConnection) -> RawClient:
        channel = await conn.channel()
        replies = await channel.declare_queue(exclusive=True)
        client = cls(channel, replies)
        await replies.consume(client.on_reply, no_ack=True)
        return client

    async def on_reply(self, msg: AbstractIncomingMessage) -> None:
        self.waiting.pop(msg.correlation_id or "").set_result(msg)

    async def send(
        self, queue: str, body: bytes, headers: dict[str, str], reply: bool = True
    ) -> Any:
        cid = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        if reply:
            self.waiting[cid] = future
        await self.channel.default_exchange.publish(
            aio_pika.Message(
                body,
                headers=headers,
                correlation_id=cid,
                reply_to=self.replies.name if reply else None,
            ),
            routing_key=queue,
        )
        return await asyncio.wait_for(future, 10) if reply else None


def _wire(reply: AbstractIncomingMessage) -> dict[str, Any]:
    headers = text_headers(reply.headers)
    assert ERROR_HEADER in headers, headers
    wire: dict[str, Any] = msgspec.json.decode(reply.body)
    assert wire["code"] == headers[ERROR_HEADER]
    return wire


async def test_bad_input_gets_typed_replies_and_serving_goes_on(
    conn: AbstractRobustConnection, queue: str
) -> None:
    seen: list[BaseException] = []
    options = {"max_payload": 1000, "error_handler": lambda m, e: seen.append(e)}
    raw = await RawClient.open(conn)
    upper = {METHOD_HEADER: "uppercase"}
    async with Subscriber(conn, queue, EchoService(), **options):
        assert _wire(await raw.send(queue, b"{not json", upper))["code"] == "invalid_argument"
        wire = _wire(await raw.send(queue, b'{"s": 5}', upper))
        assert wire["code"] == "invalid_argument" and wire["details"]["field"] == "$.s"
        wire = _wire(await raw.send(queue, b"{}", {METHOD_HEADER: "nope"}))
        assert wire["code"] == "not_found" and "uppercase" in wire["details"]["methods"]
        wire = _wire(await raw.send(queue, b"{}", {}))
        assert wire["code"] == "not_found"  # no method named at all
        big = b'{"s": "' + b"x" * 2000 + b'"}'
        assert _wire(await raw.send(queue, big, upper))["code"] == "invalid_argument"
        wire = _wire(await raw.send(queue, b'{"s": "a"}', {**upper, TIMEOUT_HEADER: "soon"}))
        assert wire["details"] == {"header": TIMEOUT_HEADER}
        await raw.send(queue, b'{"s": "no reply_to"}', upper, reply=False)
        await until(lambda: any("reply_to" in str(e) for e in seen))
        reply = await raw.send(queue, b'{"s": "still up"}', upper)
        assert msgspec.json.decode(reply.body) == "STILL UP"
    assert len(seen) == 7
    await raw.channel.close()


async def test_server_options_like_go_kit(conn: AbstractRobustConnection, queue: str) -> None:
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
        conn,
        queue,
        EchoService(),
        before=before,
        after=after,
        error_encoder=error_encoder,
        finalizer=finalizer,
    ):
        ask = Publisher(
            conn,
            queue,
            "context_value",
            before=lambda h: h.update({"X-User": "ann"}),
            after=lambda r: finals.append(("after", text_headers(r.headers).get("X-Served-By"))),
        )
        assert await ask({"key": "user"}) == "ann"
        crash = Publisher(conn, queue, "crash")
        with pytest.raises(NotFound, match="custom"):
            await crash({})
        await ask.close()
        await crash.close()
    assert ("after", "test") in finals
    assert ("context_value", None) in finals and ("crash", "RuntimeError") in finals


async def test_publisher_timeout_and_missing_queue(
    conn: AbstractRobustConnection, queue: str
) -> None:
    call = Publisher(conn, queue, "uppercase", timeout=5)
    with pytest.raises(Unavailable, match="no queue"):
        await call({"s": "x"})
    async with Subscriber(conn, queue, EchoService()):
        slow = Publisher(conn, queue, "slow", timeout=0.2)
        with pytest.raises(kitcore.DeadlineExceeded):
            await slow({"seconds": 5})
        await slow.close()
    await call.close()


async def test_instances_share_the_queue(conn: AbstractRobustConnection, queue: str) -> None:
    served: list[str] = []

    def mark(name: str) -> Any:
        return lambda message, error, seconds: served.append(name)

    async with (
        Subscriber(conn, queue, EchoService(), prefetch=1, finalizer=mark("a")),
        Subscriber(conn, queue, EchoService(), prefetch=1, finalizer=mark("b")),
    ):
        call = Publisher(conn, queue, "slow")
        results = await asyncio.gather(*(call({"seconds": 0.01}) for _ in range(20)))
        await call.close()
    assert results == ["done"] * 20 and len(served) == 20
    assert {"a", "b"} <= set(served)


async def test_stop_drains_in_flight_calls(conn: AbstractRobustConnection, queue: str) -> None:
    service = EchoService()
    subscriber = Subscriber(conn, queue, service)
    await subscriber.start()
    publisher = Publisher(conn, queue, "slow")
    call = asyncio.create_task(publisher({"seconds": 0.5}))
    await asyncio.wait_for(service.started.wait(), 5)
    await subscriber.stop()
    assert await asyncio.wait_for(call, 5) == "done"
    assert not service.cancelled.is_set()
    await publisher.close()


async def test_connect_before_edits_each_requests_headers(
    conn: AbstractRobustConnection, queue: str, url: str
) -> None:
    # The hook a tracer injects its context with: called per request, on its headers.
    def read(message: Message) -> dict[str, str]:
        return {"trace": message.headers.get("traceparent", "")}

    n = iter(range(100))

    def inject(headers: dict[str, str]) -> None:
        headers["traceparent"] = f"00-{next(n):032x}-{1:016x}-01"

    async with (
        Subscriber(conn, queue, EchoService(), before=read),
        kitcore.connect(EchoService, url, before=inject) as client,
    ):
        first = await client.context_value("trace")
        second = await client.context_value("trace")
    assert (first, second) == (f"00-{0:032x}-{1:016x}-01", f"00-{1:032x}-{1:016x}-01")
