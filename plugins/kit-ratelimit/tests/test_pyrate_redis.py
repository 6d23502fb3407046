"""PyrateLimiter with buckets in the real Redis, shared by several processes."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from kit_ratelimit import PyrateLimiter

from kitcore import context
from kitcore.errors import ResourceExhausted, Unavailable
from kitcore.ratelimit import erroring_limiter
from kitcore.testing.limiter import check_allower, check_waiter
from kitcore.testing.services import free_port

# One of the processes sharing a limit: connects, says "ready", waits for "go" on
# stdin, then tries `attempts` calls as fast as it can and prints how many went.
CHILD = """
import asyncio, json, sys
import redis.asyncio as aioredis
from kit_ratelimit import PyrateLimiter

async def main(url, prefix, attempts):
    client = aioredis.from_url(url)
    await client.ping()
    limiter = PyrateLimiter(0.001, burst=25, name="shared", redis=client, prefix=prefix)
    print("ready", flush=True)
    sys.stdin.readline()
    allowed = 0
    for _ in range(int(attempts)):
        if await limiter.take() == 0:
            allowed += 1
    print(json.dumps({"allowed": allowed}), flush=True)
    await client.aclose()

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A redis.asyncio client of the real Redis (kitcore's ``redis_url`` fixture)."""
    conn = aioredis.from_url(redis_url, socket_connect_timeout=1)
    yield conn
    await conn.aclose()


@pytest.fixture
async def prefix(client: aioredis.Redis) -> AsyncIterator[str]:
    """A Redis key prefix of this test's own, deleted afterwards."""
    prefix = f"kit-test:ratelimit:{uuid.uuid4().hex[:12]}"
    yield prefix
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)


def fresh(client: aioredis.Redis, prefix: str) -> Any:
    """A factory of limiters with buckets of their own, for the conformance suites."""

    def make(rate: float, burst: int) -> PyrateLimiter:
        return PyrateLimiter(rate, burst, name=uuid.uuid4().hex[:8], redis=client, prefix=prefix)

    return make


async def test_passes_the_allower_suite(client: aioredis.Redis, prefix: str) -> None:
    await check_allower(fresh(client, prefix))


async def test_passes_the_waiter_suite(client: aioredis.Redis, prefix: str) -> None:
    await check_waiter(fresh(client, prefix))


async def test_callers_get_buckets_of_their_own_in_redis(
    client: aioredis.Redis, prefix: str
) -> None:
    limiter = PyrateLimiter(
        0.01, burst=1, redis=client, prefix=prefix, key=lambda: context.get("caller")
    )
    endpoint = erroring_limiter(limiter)(lambda request: asyncio.sleep(0, request))
    with context.bind(caller="alice"):
        await endpoint(1)
        with pytest.raises(ResourceExhausted) as refused:
            await endpoint(2)
    assert refused.value.retry_after is not None and 99 < refused.value.retry_after <= 100
    with context.bind(caller="bob"):
        assert await endpoint(1) == 1
    assert await client.exists(f"{prefix}:default:alice", f"{prefix}:default:bob") == 2
    # Idle keys expire by themselves, but not before queued reservations could be due.
    assert 3_500_000 < await client.pttl(f"{prefix}:default:alice") <= 3_600_000


async def test_two_processes_share_one_limit(
    client: aioredis.Redis, prefix: str, redis_url: str
) -> None:
    # 25 tokens and practically no refill: together the two may make 25 calls, not 50.
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            redis_url,
            prefix,
            "40",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
            assert line == b"ready\n", line
        results = await asyncio.gather(
            *(asyncio.wait_for(proc.communicate(b"go\n"), timeout=30) for proc in procs)
        )
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    allowed = []
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
        allowed.append(json.loads(out.decode().splitlines()[-1])["allowed"])
    assert sum(allowed) == 25, allowed

    # And this process, a third user of the same limit, finds it spent.
    limiter = PyrateLimiter(0.001, burst=25, name="shared", redis=client, prefix=prefix)
    assert await limiter.take() > 0


async def test_an_unreachable_redis_is_unavailable_unless_failing_open() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    closed = PyrateLimiter(1, burst=1, redis=url)
    try:
        with pytest.raises(Unavailable, match="rate limiter store unavailable"):
            await closed.allow()
        with pytest.raises(Unavailable):
            await closed.wait(1.0)
    finally:
        await closed.aclose()
    open_ = PyrateLimiter(1, burst=1, redis=url, fail_open=True)
    try:
        assert await open_.allow() is True
        await open_.wait(1.0)
    finally:
        await open_.aclose()


def test_a_blocking_redis_client_is_refused(redis_url: str) -> None:
    blocking = redis.Redis.from_url(redis_url)
    try:
        with pytest.raises(TypeError, match=r"redis\.asyncio"):
            PyrateLimiter(1, redis=blocking)  # type: ignore[arg-type]
    finally:
        blocking.close()
