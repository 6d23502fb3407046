"""Events over the real RabbitMQ: acked after success, retried, dead-lettered, confirmed."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import msgspec
from aio_pika.abc import AbstractRobustConnection
from kit_amqp.connection import text_headers
from kit_amqp.events import EventConsumer, EventPublisher

from kitcore.backoff import Backoff
from kitcore.messaging.events import EventHandler, service_handlers
from kitcore.service import method
from kitcore.testing.messaging import until


class Order(msgspec.Struct):
    """An event."""

    id: int
    fail_times: int = 0


FAST = Backoff(base=0.05, cap=0.1, jitter=False)


async def _queue_depth(conn: AbstractRobustConnection, name: str) -> int:
    channel = await conn.channel()
    queue = await channel.declare_queue(name, passive=True)
    count = queue.declaration_result.message_count or 0
    await channel.close()
    return count


async def _dead_letters(conn: AbstractRobustConnection, queue: str, count: int) -> list[Any]:
    channel = await conn.channel()
    dead = await channel.get_queue(f"{queue}.dead")
    out: list[Any] = []
    for _ in range(500):
        msg = await dead.get(fail=False, no_ack=True)
        if msg is not None:
            out.append(msg)
            if len(out) == count:
                break
        else:
            await asyncio.sleep(0.02)
    await channel.close()
    return out


async def test_every_event_handled_and_acked(conn: AbstractRobustConnection, queue: str) -> None:
    seen: Counter[int] = Counter()

    async def handle(order: Order) -> None:
        seen[order.id] += 1

    handler = EventHandler.for_type("orders", handle, Order)
    publisher = EventPublisher(conn, queue)
    async with EventConsumer(conn, queue, handler):
        for i in range(200):
            await publisher.publish(Order(i))
        await until(lambda: len(seen) == 200)
    await publisher.close()
    assert set(seen.values()) == {1}
    assert await _queue_depth(conn, queue) == 0


async def test_a_failing_handler_is_retried_with_backoff_then_succeeds(
    conn: AbstractRobustConnection, queue: str
) -> None:
    attempts: Counter[int] = Counter()

    async def handle(order: Order) -> None:
        attempts[order.id] += 1
        if attempts[order.id] <= order.fail_times:
            raise RuntimeError(f"attempt {attempts[order.id]} fails")

    handler = EventHandler.for_type("orders", handle, Order, max_attempts=4, backoff=FAST)
    publisher = EventPublisher(conn, queue)
    async with EventConsumer(conn, queue, handler):
        await publisher.publish(Order(1, fail_times=2))
        await until(lambda: attempts[1] == 3)
        await asyncio.sleep(0.3)  # time for a wrong extra delivery to show
    await publisher.close()
    assert attempts[1] == 3
    assert await _queue_depth(conn, f"{queue}.dead") == 0


async def test_exhausted_retries_are_dead_lettered_with_the_error(
    conn: AbstractRobustConnection, queue: str
) -> None:
    calls: list[int] = []

    async def handle(order: Order) -> None:
        calls.append(order.id)
        raise ValueError("the ledger is closed\nfor today")

    handler = EventHandler.for_type("orders", handle, Order, max_attempts=3, backoff=FAST)
    publisher = EventPublisher(conn, queue)
    async with EventConsumer(conn, queue, handler):
        message_id = await publisher.publish(Order(7))
        await until(lambda: len(calls) == 3)
        [dead] = await _dead_letters(conn, queue, 1)
    await publisher.close()
    headers = text_headers(dead.headers)
    assert msgspec.json.decode(dead.body, type=Order) == Order(7)
    assert dead.message_id == message_id
    assert headers["Kit-Dead-Reason"] == "handler"
    assert headers["Kit-Dead-Error-Type"] == "ValueError"
    assert headers["Kit-Dead-Error-Message"] == "the ledger is closed for today"
    assert headers["Kit-Dead-Attempts"] == "3"
    assert headers["Kit-Dead-Subject"] == queue


async def test_undecodable_events_go_straight_to_dead_letters(
    conn: AbstractRobustConnection, queue: str
) -> None:
    calls: list[Order] = []

    async def handle(order: Order) -> None:
        calls.append(order)

    handler = EventHandler.for_type("orders", handle, Order, max_payload=100)
    publisher = EventPublisher(conn, queue)
    async with EventConsumer(conn, queue, handler):
        await publisher.publish(b"{not json")
        await publisher.publish(b'{"id": "seven"}')
        await publisher.publish(b'{"id": 1, "pad": "' + b"x" * 200 + b'"}')
        await publisher.publish(Order(2))
        dead = await _dead_letters(conn, queue, 3)
        await until(lambda: len(calls) == 1)
    await publisher.close()
    reasons = sorted(text_headers(d.headers)["Kit-Dead-Reason"] for d in dead)
    assert reasons == ["decode", "decode", "size"]
    assert calls == [Order(2)]


class Shop:
    """A service with an event handler method."""

    def __init__(self) -> None:
        self.orders: list[int] = []

    @method(event="shop.orders")
    async def order_placed(self, id: int) -> None:
        """Record an order."""
        self.orders.append(id)


async def test_a_service_method_bound_as_event_handler(
    conn: AbstractRobustConnection, queue: str
) -> None:
    shop = Shop()
    publisher = EventPublisher(conn, queue)
    async with EventConsumer(conn, queue, service_handlers(shop)["shop.orders"]):
        await publisher.publish({"id": 5})
        await until(lambda: shop.orders == [5])
    await publisher.close()


async def test_events_published_before_any_consumer_are_kept(
    conn: AbstractRobustConnection, queue: str
) -> None:
    publisher = EventPublisher(conn, queue)
    for i in range(10):
        await publisher.publish(Order(i))
    await publisher.close()
    seen: list[int] = []

    async def handle(order: Order) -> None:
        seen.append(order.id)

    async with EventConsumer(conn, queue, EventHandler.for_type("o", handle, Order)):
        await until(lambda: len(seen) == 10)
    assert sorted(seen) == list(range(10))


async def test_an_event_no_queue_takes_is_an_error(
    conn: AbstractRobustConnection, queue: str
) -> None:
    import pytest

    from kitcore.errors import Unavailable

    publisher = EventPublisher(conn, queue, declare=False)
    with pytest.raises(Unavailable, match="no queue"):
        await publisher.publish(Order(1))
    await publisher.close()
