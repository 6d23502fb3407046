"""kitcore.messaging.events and .idempotency: the decisions every broker consumer carries out."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from kitcore.backoff import Backoff
from kitcore.errors import NotFound
from kitcore.messaging.events import Delivery, EventHandler, dead_letter_headers
from kitcore.messaging.idempotency import IdempotencyStore, MemoryStore, RedisStore, from_url
from kitcore.testing.services import unavailable


class Event(msgspec.Struct):
    """An event."""

    n: int


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[IdempotencyStore]:
    """Each store; the Redis one on ``redis_url``'s Redis, its keys under a unique prefix."""
    if request.param == "memory":
        yield MemoryStore()
        return
    try:
        import redis.asyncio as redis
    except ImportError:
        unavailable("redis-py is not installed")
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"kit:test:{uuid.uuid4().hex}:"
    try:
        yield RedisStore(client, prefix=prefix, ttl=60)
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_store_claims_commits_and_aborts(store: IdempotencyStore) -> None:
    assert await store.begin("a", 30) == "new"
    assert await store.begin("a", 30) == "busy"
    await store.abort("a")
    assert await store.begin("a", 30) == "new"
    await store.commit("a")
    assert await store.begin("a", 30) == "done"


async def test_a_dead_consumers_claim_expires(store: IdempotencyStore) -> None:
    import asyncio

    assert await store.begin("b", 0.05) == "new"
    await asyncio.sleep(0.1)
    assert await store.begin("b", 30) == "new"


def _handler(calls: list[Any], fail: int = 0, **options: Any) -> EventHandler:
    async def handle(event: Event) -> None:
        calls.append(event)
        if len(calls) <= fail:
            raise NotFound("not yet", details={"n": event.n})

    return EventHandler.for_type("t", handle, Event, **options)


async def test_decisions() -> None:
    calls: list[Any] = []
    handler = _handler(calls, fail=1, max_attempts=2, backoff=Backoff(0.5, 0.5, jitter=False))
    first = await handler.process(Delivery("1", "s", b'{"n": 1}'))
    assert first.action == "retry" and first.delay == 0.5 and isinstance(first.error, NotFound)
    assert (await handler.process(Delivery("1", "s", b'{"n": 1}', attempt=2))).action == "ack"
    bad = await handler.process(Delivery("2", "s", b'{"n": "x"}'))
    assert bad.action == "dead" and bad.stage == "decode" and len(calls) == 2


async def test_the_last_attempt_is_dead_with_the_error_in_headers() -> None:
    handler = _handler([], fail=5, max_attempts=2)
    delivery = Delivery("9", "orders", b'{"n": 9}', {"X-Trace": "t1"}, attempt=2)
    outcome = await handler.process(delivery)
    assert outcome.action == "dead"
    headers = dead_letter_headers(delivery, outcome)
    assert headers == {
        "X-Trace": "t1",
        "Kit-Dead-Reason": "handler",
        "Kit-Dead-Error-Code": "not_found",
        "Kit-Dead-Error-Type": "NotFound",
        "Kit-Dead-Error-Message": "not yet",
        "Kit-Dead-Attempts": "2",
        "Kit-Dead-Subject": "orders",
        "Kit-Dead-Message-Id": "9",
    }


async def test_idempotent_handler_skips_duplicates(store: IdempotencyStore) -> None:
    calls: list[Any] = []
    handler = _handler(calls, fail=1, idempotency=store)
    assert (await handler.process(Delivery("x", "s", b'{"n": 1}'))).action == "retry"
    assert (await handler.process(Delivery("x", "s", b'{"n": 1}', attempt=2))).action == "ack"
    assert (await handler.process(Delivery("x", "s", b'{"n": 1}', attempt=3))).action == "skip"
    assert len(calls) == 2  # the failed attempt freed its claim; the duplicate was skipped


async def test_an_id_claimed_elsewhere_is_put_off_without_spending_an_attempt() -> None:
    store = MemoryStore()
    await store.begin("t:y", 30)
    outcome = await _handler([], idempotency=store, lease=4).process(Delivery("y", "s", b'{"n":1}'))
    assert outcome.action == "retry" and outcome.stage == "busy" and outcome.delay == 2


def test_from_url() -> None:
    assert from_url(None) is None
    assert isinstance(from_url("memory"), MemoryStore)
    with pytest.raises(ValueError, match="unknown idempotency store"):
        from_url("mongo://x")


async def test_an_explicit_decoder_refusing_is_dead_at_once() -> None:
    def strict(body: bytes) -> Any:
        raise ValueError("not for me")

    calls: list[Any] = []

    async def handle(event: Any) -> None:
        calls.append(event)

    outcome = await EventHandler("t", handle, strict).process(Delivery("1", "s", b"{}"))
    assert outcome.action == "dead" and outcome.stage == "decode" and calls == []
    assert "not for me" in str(outcome.error)


async def test_a_store_that_is_down_puts_the_event_off() -> None:
    import redis.asyncio as redis

    from kitcore.testing.services import free_port

    client = redis.Redis(port=free_port(), socket_connect_timeout=1)  # nothing listens
    calls: list[Any] = []
    handler = _handler(calls, idempotency=RedisStore(client))
    try:
        outcome = await handler.process(Delivery("z", "s", b'{"n": 1}'))
    finally:
        await client.aclose()
    assert outcome.action == "retry" and outcome.stage == "store" and calls == []
