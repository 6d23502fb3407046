"""Nothing lost: the consumer SIGKILLed mid-batch of 10,000 events, and the broker restarted.

Against the real JetStream. The consumer runs in its own process (``crash_consumer.py``)
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
from kit_nats.connection import open_connection
from kit_nats.events import EventConsumer, EventPublisher, ensure_stream
from kit_nats.testing import URL, NatsServer
from nats.aio.client import Client
from nats.js import JetStreamContext

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


async def _publish(js: JetStreamContext, subject: str, total: int) -> None:
    publisher = EventPublisher(js, subject)
    for start in range(0, total, 500):
        await asyncio.gather(
            *(
                publisher.publish(Event(n), id=f"e{n}")
                for n in range(start, min(total, start + 500))
            )
        )


async def _crash_run(
    nc: Client, redis_client: Any, redis_url: str, idempotent: bool
) -> tuple[dict[int, int], int]:
    run_id = uuid.uuid4().hex
    stream, subject, key = f"CRASH_{run_id}", f"crash.{run_id}", f"kit:test:crash:{run_id}"
    prefix = f"kit:test:idem:{run_id}:" if idempotent else ""
    js = nc.jetstream()
    await ensure_stream(js, stream, [subject])

    def spawn() -> subprocess.Popen[bytes]:
        args = [sys.executable, str(CONSUMER), URL, redis_url, stream, subject, key, prefix]
        return subprocess.Popen(args)

    async def settled() -> bool:
        info = await js.consumer_info(stream, "crash")
        return info.num_pending == 0 and info.num_ack_pending == 0

    crash = CrashRun(spawn, redis_client, key)
    try:
        await _publish(js, subject, TOTAL)
        return await crash.run(TOTAL, kill_at=TOTAL // 3, settled=settled)
    finally:
        crash.close()
        for name in (stream, f"{stream}_DEAD"):
            try:
                await js.delete_stream(name)
            except Exception as exc:  # the dead letter stream may not exist
                print(f"delete {name}: {exc}")
        keys = [key] + [k async for k in redis_client.scan_iter(f"{prefix}*")] if prefix else [key]
        await redis_client.delete(*keys)


async def test_sigkill_mid_batch_loses_nothing(
    nc: Client, redis_client: Any, redis_url: str
) -> None:
    counts, at_kill = await _crash_run(nc, redis_client, redis_url, idempotent=False)
    assert sorted(counts) == list(range(TOTAL))  # every event handled, none lost
    duplicates = sorted(n for n, c in counts.items() if c > 1)
    print(f"handled before the kill: {at_kill}; duplicates: {len(duplicates)}")
    # Only what the killed consumer had in hand, handled but not yet acked, came again:
    # at most its max_ack_pending (1000), all in one window of the stream.
    assert len(duplicates) <= 1000
    if duplicates:
        assert duplicates[-1] - duplicates[0] < 1000 + 100
    assert all(c <= 2 for c in counts.values())


async def test_sigkill_with_idempotency_is_exactly_once_in_effect(
    nc: Client, redis_client: Any, redis_url: str
) -> None:
    counts, at_kill = await _crash_run(nc, redis_client, redis_url, idempotent=True)
    assert sorted(counts) == list(range(TOTAL))
    duplicates = [n for n, c in counts.items() if c > 1]
    print(f"handled before the kill: {at_kill}; duplicates: {len(duplicates)}")
    # Redelivered events handled before were skipped, and the handler commits its key in
    # the MULTI of its own effect: no event took effect twice.
    assert duplicates == []


async def test_broker_restart_mid_stream_is_survived() -> None:
    seen: Counter[int] = Counter()

    async def handle(event: Event) -> None:
        seen[event.n] += 1
        await asyncio.sleep(0.001)

    total = 2000
    with NatsServer() as server:
        nc = await open_connection(server.url)
        publisher_nc = await open_connection(server.url)
        try:
            handler = EventHandler.for_type("restart", handle, Event)
            async with EventConsumer(
                nc, "RESTART", "restart.events", handler, ack_wait=2.0, concurrency=10
            ) as consumer:
                await _publish(publisher_nc.jetstream(), "restart.events", total)
                await until(lambda: len(seen) >= total // 4)
                server.stop()
                stopped_at = len(seen)
                server.start()
                await until(lambda: len(seen) == total, timeout=120)
                assert stopped_at < total  # the restart came mid-stream
                js = nc.jetstream()

                async def settled() -> bool:
                    info = await js.consumer_info("RESTART", consumer.durable)
                    return info.num_pending == 0 and info.num_ack_pending == 0

                for _ in range(600):
                    if await settled():
                        break
                    await asyncio.sleep(0.05)
                assert await settled()
        finally:
            await nc.close()
            await publisher_nc.close()
    assert sorted(seen) == list(range(total))
