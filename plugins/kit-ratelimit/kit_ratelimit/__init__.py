"""kit-ratelimit: rate limiters for kit endpoints, over pyrate-limiter's token buckets.

Refuse calls beyond a rate (HTTP 429 with Retry-After, gRPC RESOURCE_EXHAUSTED) or
make them wait their turn, per service or per caller, in one process or shared by
every instance through Redis::

    from kit_ratelimit import PyrateLimiter
    from kitcore import context
    from kitcore.ratelimit import delaying_limiter, erroring_limiter

    per_caller = PyrateLimiter(10, burst=20, key=lambda: context.get("caller"))
    endpoint = erroring_limiter(per_caller)(endpoint)

    shared = PyrateLimiter(100, burst=100, name="search", redis="redis://127.0.0.1:6379/0")
    endpoint = delaying_limiter(shared, max_delay=0.5)(endpoint)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kit_ratelimit.limiter import KeyFunc, PyrateLimiter
    from kit_ratelimit.rates import token_rate
    from kit_ratelimit.stores import Buckets, MemoryBuckets, RedisBuckets

__all__ = ["Buckets", "KeyFunc", "MemoryBuckets", "PyrateLimiter", "RedisBuckets", "token_rate"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "KeyFunc": "kit_ratelimit.limiter",
        "PyrateLimiter": "kit_ratelimit.limiter",
        "token_rate": "kit_ratelimit.rates",
        "Buckets": "kit_ratelimit.stores",
        "MemoryBuckets": "kit_ratelimit.stores",
        "RedisBuckets": "kit_ratelimit.stores",
    },
)
