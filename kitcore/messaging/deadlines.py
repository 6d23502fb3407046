"""Server-side deadlines for message transports: one timer for every call in flight.

A request message carries its caller's budget (``Kit-Timeout``: milliseconds left when
it was sent) and, when the sender has one, the instant it ends (``Kit-Deadline``: Unix
time in milliseconds). The budget alone restarts the clock at receipt; the instant also
counts the time the message sat in a broker's queue or in the subscriber's buffer, so
a request its caller gave up on is refused unserved: ``DeadlineExceeded``, the handler
never runs. The instant is wall-clock time: it assumes the hosts' clocks agree
(NTP) to well within the budgets in use; ``ServerOptions(wall_clock=False)`` ignores it.

A ``Dispatcher`` enforces its calls' deadlines with a ``kitcore.deadlines.Deadlines``
of its own (one loop timer for all of them, and a count of the calls in flight).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from kitcore import context
from kitcore.deadlines import Deadlines
from kitcore.errors import InvalidArgument

TIMEOUT_HEADER = "Kit-Timeout"
"""Request header with the caller's remaining time in whole milliseconds."""
DEADLINE_HEADER = "Kit-Deadline"
"""Request header with the caller's deadline as Unix time in whole milliseconds."""
MAX_DIGITS = 15
"""A header value of more digits is refused, not parsed (``Kit-Timeout`` over 31,000 years)."""


def _millis(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    # Plain ASCII digits only: int() would also take "+5", "1_000", " 7 " and "²" fails it.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_DIGITS:
        raise InvalidArgument(
            f"bad {name} header: want whole milliseconds, at most {MAX_DIGITS} digits",
            details={"header": name},
        )
    return int(raw)


def deadline_of(
    headers: Mapping[str, str] | None, cap: float | None, wall_clock: bool = True
) -> float | None:
    """The request's deadline as an instant on ``kitcore.context.now()``'s clock (None: unbounded).

    The earliest of: receipt + ``Kit-Timeout``, ``Kit-Deadline`` (when ``wall_clock``)
    and receipt + ``cap`` seconds. A malformed header raises InvalidArgument.
    """
    if not headers and cap is None:
        return None
    now = context.now()
    instant = None if cap is None else now + cap
    if not headers:
        return instant
    timeout = _millis(headers, TIMEOUT_HEADER)
    if timeout is not None:
        by_budget = now + timeout / 1000
        instant = by_budget if instant is None else min(instant, by_budget)
    if wall_clock:
        deadline = _millis(headers, DEADLINE_HEADER)
        if deadline is not None:
            by_clock = now + (deadline / 1000 - time.time())
            instant = by_clock if instant is None else min(instant, by_clock)
    return instant


def deadline_headers(left: float) -> dict[str, str]:
    """The headers telling a server that ``left`` seconds remain from now (``left`` > 0)."""
    return {
        TIMEOUT_HEADER: str(max(1, int(left * 1000))),
        DEADLINE_HEADER: str(int((time.time() + left) * 1000)),
    }


__all__ = [
    "DEADLINE_HEADER",
    "MAX_DIGITS",
    "TIMEOUT_HEADER",
    "Deadlines",
    "deadline_headers",
    "deadline_of",
]
