"""kit-ratelimit is found through its entry point and builds limiters by name or URL."""

from __future__ import annotations

import pytest
from kit_ratelimit import PyrateLimiter, RedisBuckets

from kitcore.plugins import load


async def test_registers_pyrate_and_redis_limiters_through_its_entry_point() -> None:
    plugins = load(env={"KIT_PLUGINS": "kit-ratelimit"})
    info = next(i for i in plugins.infos if i.name == "kit-ratelimit")
    assert info.error is None
    assert info.registers == {"limiters": ["pyrate", "redis"]}

    memory = plugins.open("limiters", "pyrate", rate=5, burst=2)
    assert isinstance(memory, PyrateLimiter)
    assert await memory.allow() and await memory.allow()
    assert memory.allow_now is not None  # in memory: decided at once, without a coroutine

    shared = plugins.open("limiters", "redis://127.0.0.1:6379/3", rate=5, name="search")
    try:
        assert isinstance(shared, PyrateLimiter)
        buckets = shared.buckets
        assert isinstance(buckets, RedisBuckets)
        assert shared.allow_now is None  # Redis must be awaited: no plain-method decision
        assert buckets.prefix == "kit:ratelimit:search"
        assert buckets.client.connection_pool.connection_kwargs["db"] == 3
    finally:
        await shared.aclose()

    factory = plugins.backend("limiters", "redis").factory
    with pytest.raises(ValueError, match="needs a Redis URL"):
        factory("redis", rate=1)
    with pytest.raises(ValueError, match="not both"):
        factory("redis://h:1/0", rate=1, redis="redis://h:2/0")
