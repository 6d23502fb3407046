"""The kit plugin entry point: registers the ``pyrate`` and ``redis`` rate limiters.

pyrate-limiter is imported only when a limiter is built, so listing plugins stays cheap.
"""

from __future__ import annotations

from typing import Any

from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register


def memory_limiter(url: str | None = None, /, **options: Any) -> Any:
    """Build an in-memory :class:`~kit_ratelimit.PyrateLimiter` (``url`` is the name used)."""
    from kit_ratelimit.limiter import PyrateLimiter

    return PyrateLimiter(**options)


def redis_limiter(url: str | None = None, /, **options: Any) -> Any:
    """Build a Redis-backed PyrateLimiter: ``redis_limiter("redis://host:6379/0", rate=10)``.

    The Redis URL comes as ``url`` (when it is one) or as the ``redis=`` option.
    """
    from kit_ratelimit.limiter import PyrateLimiter

    if url is not None and "://" in url:
        if "redis" in options:
            raise ValueError("give the Redis URL once: as the URL or as redis=, not both")
        options["redis"] = url
    if options.get("redis") is None:
        raise ValueError("the redis limiter needs a Redis URL, e.g. redis://127.0.0.1:6379/0")
    return PyrateLimiter(**options)


@hookimpl
def kit_register_limiters(register: Register) -> None:
    """Register ``pyrate`` (buckets in memory) and ``redis`` (buckets shared through Redis)."""
    register("pyrate", memory_limiter, description="pyrate-limiter token buckets in memory")
    register("redis", redis_limiter, description="pyrate-limiter token buckets in Redis")
