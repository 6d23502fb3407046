"""Events over the real JetStream: acked after success, retried, dead-lettered, idempotent."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

import msgspec
import nats.js.errors
import pytest
from kit_nats.events import EventConsumer, EventPublisher
from nats.aio.client import Client

from kitcore.backoff import Backoff
from kitcore.messaging.events import EventHandler, service_handlers
from kitcore.service import method
from kitcore.testing.messaging import until


class Order(msgspec.Struct):
    """An event."""

    id: int
    fail_times: int = 0


@pytest.fixture
async def stream(nc: Client, subject: str) -> AsyncIterator[str]:
    """A stream name for the test; the stream and its dead letters deleted after."""
    name = subject.upper()
    yield name
    js = nc.jetstream()
    for n in (name, f"{name}_DEAD"):
        with contextlib.suppress(nats.js.errors.NotFoundError):  # never created
            await js.delete_stream(n)


FAST = Backoff(base=0.05, cap=0.1, jitter=False)


async def test_every_event_handled_and_acked(nc: Client, stream: str, subject: str) -> None:
    seen: Counter[int] = Counter()

    async def handle(order: Order) -> None:
        seen[order.id] += 1

    handler = EventHandler.for_type("orders", handle, Order)
    publisher = EventPublisher(nc.jetstream(), subject)
    async with EventConsumer(nc, stream, subject, handler) as consumer:
        for i in range(200):
            await publisher.publish(Order(i))
        await until(lambda: len(seen) == 200)
    info = await nc.jetstream().consumer_info(stream, consumer.durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0
    assert set(seen.values()) == {1}


async def test_a_failing_handler_is_retried_with_backoff_then_succeeds(
    nc: Client, stream: str, subject: str
) -> None:
    attempts: Counter[int] = Counter()

    async def handle(order: Order) -> None:
        attempts[order.id] += 1
        if attempts[order.id] <= order.fail_times:
            raise RuntimeError(f"attempt {attempts[order.id]} fails")

    handler = EventHandler.for_type("orders", handle, Order, max_attempts=4, backoff=FAST)
    async with EventConsumer(nc, stream, subject, handler):
        await EventPublisher(nc.jetstream(), subject).publish(Order(1, fail_times=2))
        await until(lambda: attempts[1] == 3)
        await asyncio.sleep(0.3)  # time for a wrong extra delivery to show
    assert attempts[1] == 3
    info = await nc.jetstream().stream_info(f"{stream}_DEAD")
    assert info.state.messages == 0


async def _dead_letters(nc: Client, stream: str, subject: str, count: int) -> list[object]:
    sub = await nc.jetstream().pull_subscribe(f"dead.{subject}", stream=f"{stream}_DEAD")
    msgs: list[object] = []
    try:
        # A fetch returns what is there already, perhaps fewer than asked for: the rest
        # may still be on their way to the dead letters (a fetch that finds none in
        # time raises, so this cannot wait for ever).
        while len(msgs) < count:
            msgs += await sub.fetch(count - len(msgs), timeout=10)
    finally:
        await sub.unsubscribe()
    return msgs


async def test_exhausted_retries_are_dead_lettered_with_the_error(
    nc: Client, stream: str, subject: str
) -> None:
    calls: list[int] = []

    async def handle(order: Order) -> None:
        calls.append(order.id)
        raise ValueError("the ledger is closed\nfor today")

    handler = EventHandler.for_type("orders", handle, Order, max_attempts=3, backoff=FAST)
    async with EventConsumer(nc, stream, subject, handler):
        message_id = await EventPublisher(nc.jetstream(), subject).publish(Order(7))
        await until(lambda: len(calls) == 3)
        [dead] = await _dead_letters(nc, stream, subject, 1)
    headers = dead.headers  # type: ignore[attr-defined]
    assert msgspec.json.decode(dead.data, type=Order) == Order(7)  # type: ignore[attr-defined]
    assert headers["Kit-Dead-Reason"] == "handler"
    assert headers["Kit-Dead-Error-Type"] == "ValueError"
    assert headers["Kit-Dead-Error-Message"] == "the ledger is closed for today"
    assert headers["Kit-Dead-Attempts"] == "3"
    assert headers["Kit-Dead-Message-Id"] == message_id
    assert headers["Kit-Dead-Subject"] == subject


async def test_undecodable_events_go_straight_to_dead_letters(
    nc: Client, stream: str, subject: str
) -> None:
    calls: list[Order] = []

    async def handle(order: Order) -> None:
        calls.append(order)

    handler = EventHandler.for_type("orders", handle, Order, max_payload=100)
    publisher = EventPublisher(nc.jetstream(), subject)
    async with EventConsumer(nc, stream, subject, handler):
        await publisher.publish(b"{not json")
        await publisher.publish(b'{"id": "seven"}')
        await publisher.publish(b'{"id": 1, "pad": "' + b"x" * 200 + b'"}')
        await publisher.publish(Order(2))
        dead = await _dead_letters(nc, stream, subject, 3)
        await until(lambda: len(calls) == 1)
    reasons = sorted(d.headers["Kit-Dead-Reason"] for d in dead)  # type: ignore[attr-defined]
    assert reasons == ["decode", "decode", "size"]
    assert all(d.headers["Kit-Dead-Attempts"] == "1" for d in dead)  # type: ignore[attr-defined]
    assert calls == [Order(2)]


class Shop:
    """A service with an event handler method."""

    def __init__(self) -> None:
        self.orders: list[int] = []

    @method(event="shop.orders")
    async def order_placed(self, id: int, fail_times: int = 0) -> None:
        """Record an order."""
        self.orders.append(id)


async def test_a_service_method_bound_as_event_handler(
    nc: Client, stream: str, subject: str
) -> None:
    shop = Shop()
    handlers = service_handlers(shop)
    assert list(handlers) == ["shop.orders"]
    async with EventConsumer(nc, stream, subject, handlers["shop.orders"]):
        await EventPublisher(nc.jetstream(), subject).publish({"id": 5})
        await until(lambda: shop.orders == [5])
