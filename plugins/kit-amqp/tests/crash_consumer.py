"""A RabbitMQ consumer process for the crash tests: each event is ``HINCRBY key n 1``.

python crash_consumer.py AMQP_URL REDIS_URL QUEUE KEY [IDEMPOTENCY_PREFIX]
"""

from __future__ import annotations

import asyncio
import sys

import msgspec
import redis.asyncio as redis
from kit_amqp.connection import open_connection
from kit_amqp.events import EventConsumer

from kitcore.messaging.events import EventHandler, idempotency_key
from kitcore.messaging.idempotency import RedisStore


class Event(msgspec.Struct):
    """A numbered event."""

    n: int


async def main(url: str, redis_url: str, queue: str, key: str, prefix: str = "") -> None:
    """Consume until killed."""
    r = redis.Redis.from_url(redis_url)
    connection = await open_connection(url)
    store = RedisStore(r, prefix=prefix) if prefix else None

    async def handle(event: Event) -> None:
        if store is None:
            await r.hincrby(key, str(event.n), 1)
            return
        # The effect and the idempotency commit in one MULTI: a kill cannot split them.
        async with r.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, str(event.n), 1)
            store.commit_in(pipe, idempotency_key())
            await pipe.execute()

    handler = EventHandler.for_type("crash", handle, Event, idempotency=store, lease=2.0)
    consumer = EventConsumer(connection, queue, handler, prefetch=100)
    await consumer.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
