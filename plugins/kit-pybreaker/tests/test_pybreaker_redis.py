"""PyBreaker with its state in the real Redis, shared by two processes."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kit_pybreaker import PyBreaker

from kitcore.circuitbreaker import circuit_breaker
from kitcore.errors import Unavailable
from kitcore.metrics import MemoryProvider
from kitcore.testing.breaker import check_caller_faults_never_trip, check_trips_after_fail_max

# The other process: builds the same breaker on the same Redis namespace, then either
# trips it with failing calls or reports the state it sees, as one JSON line.
CHILD = """
import asyncio, json, sys
from kit_pybreaker import PyBreaker
from kitcore.circuitbreaker import circuit_breaker

async def main(url, namespace, mode):
    breaker = PyBreaker("shared", fail_max=3, reset_timeout=60, redis=url,
                        redis_namespace=namespace)
    calls = 0
    async def down(request):
        nonlocal calls
        calls += 1
        raise ConnectionError("backend down")
    endpoint = circuit_breaker(breaker)(down)
    if mode == "trip":
        for _ in range(3):
            try:
                await endpoint("x")
            except ConnectionError:
                pass
    print(json.dumps({"state": breaker.state, "calls": calls}))
    breaker.dispose()

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the real Redis (kitcore's ``redis_url``: skipped, or failed in CI, without)."""
    conn = redis.Redis.from_url(redis_url, socket_connect_timeout=1)
    yield conn
    conn.close()


@pytest.fixture
def namespace(client: redis.Redis) -> Iterator[str]:
    """A Redis key namespace of this test's own, deleted afterwards."""
    prefix = f"kit-test:breaker:{uuid.uuid4().hex[:12]}"
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


async def other_process(url: str, namespace: str, mode: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        url,
        namespace,
        mode,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def test_passes_the_trip_and_caller_fault_checks_with_redis_state(
    client: redis.Redis, namespace: str
) -> None:
    count = 0

    def make(fail_max: int, reset_timeout: float) -> PyBreaker:
        nonlocal count
        count += 1  # a fresh circuit for each breaker the suite builds
        return PyBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            redis=client,
            redis_namespace=f"{namespace}:{count}",
        )

    await check_trips_after_fail_max(make)
    await check_caller_faults_never_trip(make)


async def test_a_circuit_tripped_by_one_process_is_open_in_another(
    client: redis.Redis, namespace: str, redis_url: str
) -> None:
    provider = MemoryProvider()
    breaker = PyBreaker(
        "shared",
        fail_max=3,
        reset_timeout=60,
        redis=client,
        redis_namespace=namespace,
        metrics=provider,
    )
    assert breaker.state == "closed"

    assert await other_process(redis_url, namespace, "trip") == {"state": "open", "calls": 3}

    calls = 0

    async def backend(request: Any) -> Any:
        nonlocal calls
        calls += 1
        return request

    with pytest.raises(Unavailable) as refused:
        await circuit_breaker(breaker)(backend)("x")
    assert calls == 0
    assert 0 < refused.value.details["retry_after"] <= 60
    assert breaker.state == "open"
    # This process noticed the change made elsewhere, and says so in its metrics.
    assert provider.gauge_value("kit_circuit_breaker_state", breaker="shared") == 2
    assert (
        provider.counter_value(
            "kit_circuit_breaker_transitions_total", breaker="shared", state="open"
        )
        == 1
    )

    # Closing it here closes it for the other process too.
    breaker.circuit.close()
    assert await other_process(redis_url, namespace, "state") == {"state": "closed", "calls": 0}


def test_a_breaker_built_from_a_url_releases_its_client(namespace: str, redis_url: str) -> None:
    breaker = PyBreaker("owned", redis=redis_url, redis_namespace=namespace)
    assert breaker.state == "closed"
    breaker.dispose()
    breaker.dispose()  # twice is harmless
