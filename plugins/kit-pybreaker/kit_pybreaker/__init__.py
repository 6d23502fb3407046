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

from kit_pybreaker.breaker import Exclusion, PyBreaker
from kit_pybreaker.telemetry import STATE_VALUES, STATES, StateTelemetry

__all__ = ["STATES", "STATE_VALUES", "Exclusion", "PyBreaker", "StateTelemetry"]
