"""HealthyEndpoints: failed endpoints are set aside for a pause, never all at once."""

from __future__ import annotations

from typing import Any

from kitcore.lb import HealthyEndpoints
from kitcore.sd import FixedEndpointer


async def test_failed_endpoints_are_set_aside_for_the_pause() -> None:
    now = [0.0]

    async def a(request: Any) -> Any: ...
    async def b(request: Any) -> Any: ...

    healthy = HealthyEndpoints(FixedEndpointer([a, b]), pause=1.0, clock=lambda: now[0])
    assert await healthy.endpoints() == (a, b)
    healthy.failed(a)
    assert await healthy.endpoints() == (b,)
    healthy.failed(b)
    assert await healthy.endpoints() == (a, b)  # all set aside: trying beats refusing
    now[0] = 1.0
    assert await healthy.endpoints() == (a, b)  # the pause is over
    healthy.failed(a)
    healthy.forget(a)
    assert await healthy.endpoints() == (a, b)
