"""deadline_aware: refuse, before running it, a call whose deadline cannot be met."""

from __future__ import annotations

from typing import Any

from kitcore import context
from kitcore.concurrency.min_latency import MinLatency
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import DeadlineExceeded


def too_late(floor: float | None, left: float | None) -> DeadlineExceeded | None:
    """The error for a call with ``left`` seconds to go and a ``floor`` latency, or None."""
    if floor is None or left is None or left >= floor:
        return None
    return DeadlineExceeded(
        f"remaining deadline {left * 1000:.1f} ms is below the method's minimum latency "
        f"{floor * 1000:.1f} ms: refused before running",
        details={"remaining": round(left, 6), "min_latency": round(floor, 6)},
    )


def deadline_aware(min_latency: MinLatency, method: str) -> Middleware:
    """Return a Middleware refusing calls whose remaining deadline is below ``method``'s floor.

    The refusal is DeadlineExceeded, raised before the call runs. Each successful call's
    latency feeds ``min_latency`` (failures are not evidence of how fast a call can be).
    """
    clock = min_latency.clock

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            refused = too_late(min_latency.get(method), context.remaining())
            if refused is not None:
                raise refused
            start = clock()
            result = await next_(request)
            min_latency.observe(method, clock() - start)
            return result

        return endpoint

    return middleware
