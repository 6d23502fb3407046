"""kit-pybreaker: circuit breakers for kit endpoints, over pybreaker.

Wrap the endpoints that call a dependency so that, once it keeps failing, calls fail
fast with Unavailable instead of piling up on a dead instance::

    from kit_pybreaker import PyBreaker
    from kitcore.circuitbreaker import circuit_breaker

    breaker = PyBreaker("users-db", fail_max=5, reset_timeout=30, logger=logger)
    endpoint = circuit_breaker(breaker)(endpoint)

pybreaker's own decorator must not be used on ``async def`` functions: it records a
success as soon as the coroutine object exists and never trips. :class:`PyBreaker`
records the awaited outcome instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kit_pybreaker.breaker import Exclusion, PyBreaker
    from kit_pybreaker.telemetry import STATE_VALUES, STATES, StateTelemetry

__all__ = ["STATES", "STATE_VALUES", "Exclusion", "PyBreaker", "StateTelemetry"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Exclusion": "kit_pybreaker.breaker",
        "PyBreaker": "kit_pybreaker.breaker",
        "STATE_VALUES": "kit_pybreaker.telemetry",
        "STATES": "kit_pybreaker.telemetry",
        "StateTelemetry": "kit_pybreaker.telemetry",
    },
)
