"""Nothing lost: the consumer SIGKILLed mid-batch of 10,000 events, and the broker restarted.

Against the real RabbitMQ. The consumer runs in its own process (``crash_consumer.py``)
and records each handling in Redis, so its effects outlive it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aio_pika.abc import AbstractRobustConnection
from kit_amqp.events import EventConsumer, EventPublisher
from kit_amqp.testing import URL, stopped_app

from kitcore.messaging.events import EventHandler
from kitcore.testing.messaging import CrashRun, until

TOTAL = 10_000
CONSUMER = Path(__file__).with_name("crash_consumer.py")


class Event(msgspec.Struct):
    """A numbered event."""

    n: int


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Any]:
    """A client of ``redis_url``'s Redis (the consumer's effects are counted there)."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def _publish(conn: AbstractRobustConnection, queue: str, total: int) -> None:
    publisher = EventPublisher(conn, queue)
    for start in range(0, total, 500):
        await asyncio.gather(
            *(
                publisher.publish(Event(n), id=f"e{n}")
                for n in range(start, min(total, start + 500))
            )
        )
    await publisher.close()


async def _ready(conn: AbstractRobustConnection, *queues: str) -> int:
    channel = await conn.channel()
    try:
        total = 0
        for name in queues:
            queue = await channel.declare_queue(name, passive=True)
            total += queue.declaration_result.message_count or 0
        return total
    finally:
        await channel.close()


async def _crash_run(
    conn: AbstractRobustConnection,
    queue: str,
    redis_client: Any,
    redis_url: str,
    idempotent: bool,
) -> tuple[dict[int, int], int]:
    run_id = uuid.uuid4().hex
    key = f"kit:test:crash:{run_id}"
    prefix = f"kit:test:idem:{run_id}:" if idempotent else ""

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, str(CONSUMER), URL, redis_url, queue, key, prefix])

    async def settled() -> bool:
        return await _ready(conn, queue, f"{queue}.retry") == 0

    crash = CrashRun(spawn, redis_client, key)
    try:
        await _publish(conn, queue, TOTAL)
        return await crash.run(TOTAL, kill_at=TOTAL // 3, settled=settled)
    finally:
        crash.close()
        keys = [key] + [k async for k in redis_client.scan_iter(f"{prefix}*")] if prefix else [key]
        await redis_client.delete(*keys)


async def test_sigkill_mid_batch_loses_nothing(
    conn: AbstractRobustConnection, queue: str, redis_client: Any, redis_url: str
) -> None:
    counts, at_kill = await _crash_run(conn, queue, redis_client, redis_url, idempotent=False)
    assert sorted(counts) == list(range(TOTAL))  # every event handled, none lost
    duplicates = sorted(n for n, c in counts.items() if c > 1)
    print(f"handled before the kill: {at_kill}; duplicates: {len(duplicates)}")
    # Only what the killed consumer had in hand (prefetch 100), handled but not yet
    # acked, came again.
    assert len(duplicates) <= 100
    if duplicates:  # all in one window of the queue: where the kill happened
        assert duplicates[-1] - duplicates[0] < 100 + 100
    assert all(c <= 2 for c in counts.values())
    assert await _ready(conn, f"{queue}.dead") == 0


async def test_sigkill_with_idempotency_is_exactly_once_in_effect(
    conn: AbstractRobustConnection, queue: str, redis_client: Any, redis_url: str
) -> None:
    counts, at_kill = await _crash_run(conn, queue, redis_client, redis_url, idempotent=True)
    assert sorted(counts) == list(range(TOTAL))
    duplicates = [n for n, c in counts.items() if c > 1]
    print(f"handled before the kill: {at_kill}; duplicates: {len(duplicates)}")
    assert duplicates == []  # effect and commit share a MULTI: nothing took effect twice


async def test_broker_restart_mid_stream_is_survived(
    conn: AbstractRobustConnection, queue: str
) -> None:
    seen: Counter[int] = Counter()

    async def handle(event: Event) -> None:
        seen[event.n] += 1
        await asyncio.sleep(0.002)

    total = 2000
    handler = EventHandler.for_type("restart", handle, Event)
    await _publish(conn, queue, total)
    async with EventConsumer(conn, queue, handler, prefetch=10):
        await until(lambda: len(seen) >= total // 4)
        with stopped_app():
            stopped_at = len(seen)
        await until(lambda: len(seen) == total, timeout=120)
    assert stopped_at < total  # the restart came mid-stream
    assert sorted(seen) == list(range(total))
