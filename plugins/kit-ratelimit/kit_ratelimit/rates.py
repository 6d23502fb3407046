"""Token-bucket terms (tokens per second, burst) as pyrate-limiter Rates.

kit, Go kit and x/time/rate describe a limit as a refill rate and a bucket size;
pyrate-limiter as ``limit`` units per ``interval`` milliseconds with a ``burst``. Its
token bucket (GCRA) only reads the ratio ``interval / limit``, so any pair giving the
right ratio will do: this picks one precise to the microsecond.
"""

from __future__ import annotations

import math

from pyrate_limiter import Rate


def token_rate(rate: float, burst: int = 1) -> Rate:
    """Return the Rate of a bucket refilling ``rate`` tokens a second and holding ``burst``."""
    if not rate > 0 or math.isinf(rate):
        raise ValueError(f"rate must be a positive number of tokens per second, not {rate!r}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, not {burst!r}")
    # At least a second and at least a thousand units, so the emission interval
    # (interval / limit, in microseconds) keeps three significant digits.
    interval_ms = max(1000, math.ceil(1_000_000 / rate))
    limit = max(1, round(rate * interval_ms / 1000))
    return Rate(limit, interval_ms, burst=int(burst))
