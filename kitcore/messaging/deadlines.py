"""Server-side deadlines for message transports: one timer for every call in flight.

A request message carries its caller's deadline in one header, ``Kit-Timeout``: the
budget (milliseconds left when it was sent) and, after a ``;``, the instant it ends
(Unix time in milliseconds): ``Kit-Timeout: 5000;1764693000123``. The budget alone
restarts the clock at receipt; the instant also counts the time the message sat in a
broker's queue or in the subscriber's buffer, so a request its caller gave up on is
refused unserved: ``DeadlineExceeded``, the handler never runs. The instant is
wall-clock time: it assumes the hosts' clocks agree (NTP) to well within the budgets in
use; ``ServerOptions(wall_clock=False)`` ignores it. A plain ``Kit-Timeout: 5000``
(kit-http's form) is the budget alone.

One header, not one per figure, and no more characters than it needs: the broker
clients build and parse headers in Python, where a second header cost nats-py about a
tenth of a small call, and each character of a value about 0.2%.

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
"""Request header with the caller's remaining time in whole milliseconds, optionally
followed by ``;`` and the instant it ends, as Unix time in whole milliseconds."""
DEADLINE_SEPARATOR = ";"
"""What separates the instant from the budget in ``Kit-Timeout``."""
MAX_DIGITS = 15
"""A figure of more digits is refused, not parsed (a budget over 31,000 years)."""


def _bad(why: str) -> InvalidArgument:
    return InvalidArgument(
        f"bad {TIMEOUT_HEADER} header: {why}", details={"header": TIMEOUT_HEADER}
    )


def _millis(raw: str) -> int:
    # Plain ASCII digits only: int() would also take "+5", "1_000", " 7 " and "²" fails it.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_DIGITS:
        raise _bad(
            f"want whole milliseconds, at most {MAX_DIGITS} digits, then optionally "
            f"{DEADLINE_SEPARATOR}<Unix milliseconds>"
        )
    return int(raw)


def deadline_of(
    headers: Mapping[str, str] | None,
    cap: float | None,
    wall_clock: bool = True,
    now: float | None = None,
) -> float | None:
    """The request's deadline as an instant on ``kitcore.context.now()``'s clock (None: unbounded).

    The earliest of: receipt + the budget, the instant (when ``wall_clock``) and
    receipt + ``cap`` seconds; ``now`` is the receipt when the caller has just read the
    clock. A malformed header raises InvalidArgument.
    """
    if not headers and cap is None:
        return None
    if now is None:
        now = context.now()
    instant = None if cap is None else now + cap
    raw = headers.get(TIMEOUT_HEADER) if headers else None
    if raw is None:
        return instant
    budget, sep, at = raw.partition(DEADLINE_SEPARATOR)
    by_budget = now + _millis(budget) / 1000
    instant = by_budget if instant is None or by_budget < instant else instant
    if sep:
        deadline = _millis(at)  # checked even when ignored: a malformed header is refused
        if wall_clock:
            by_clock = now + (deadline / 1000 - time.time())
            instant = by_clock if by_clock < instant else instant
    return instant


def deadline_headers(left: float) -> dict[str, str]:
    """The header telling a server that ``left`` seconds remain from now (``left`` > 0)."""
    at = int((time.time() + left) * 1000)
    return {TIMEOUT_HEADER: f"{max(1, int(left * 1000))}{DEADLINE_SEPARATOR}{at}"}


__all__ = [
    "DEADLINE_SEPARATOR",
    "MAX_DIGITS",
    "TIMEOUT_HEADER",
    "Deadlines",
    "deadline_headers",
    "deadline_of",
]
