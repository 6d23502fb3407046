"""Durations written as Go writes them: ``850ns``, ``5.168µs``, ``4.39ms``, ``1m30.5s``.

Go kit's services log ``took=time.Since(begin)``, which prints ``time.Duration.String``;
kit's logs read the same. Formatting whole nanoseconds is also several times cheaper
than ``repr`` of a float, which matters on a line written for every request.
"""

from __future__ import annotations

_MICROSECOND = 1_000
_MILLISECOND = 1_000_000
_SECOND = 1_000_000_000
_MINUTE = 60 * _SECOND

_THOUSANDTHS = tuple(f".{n:03d}".rstrip("0").rstrip(".") for n in range(1000))
"""The fraction of a unit in thousandths as Go writes it: "", ".001", ".01", ".5"."""


def format_duration_ns(ns: int) -> str:
    """Format ``ns`` nanoseconds as Go's ``time.Duration.String``: ``1.5µs``, ``2h0m0.5s``."""
    if ns < _MICROSECOND:
        if ns >= 0:
            return f"{ns}ns" if ns else "0s"
        return "-" + format_duration_ns(-ns)
    if ns < _MILLISECOND:  # the usual case for a request: a table, not _decimal
        whole, part = divmod(ns, _MICROSECOND)
        return f"{whole}{_THOUSANDTHS[part]}µs"
    if ns < _SECOND:
        return _decimal(ns, _MILLISECOND) + "ms"
    minutes, ns = divmod(ns, _MINUTE)
    if not minutes:
        return _decimal(ns, _SECOND) + "s"
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + f"{minutes}m{_decimal(ns, _SECOND)}s"


def _decimal(value: int, scale: int) -> str:
    """``value / scale`` (a power of ten) in decimal, without trailing zeros: ``12.5``."""
    whole, part = divmod(value, scale)
    if not part:
        return str(whole)
    # str(part + scale)[1:] is part zero-padded to the scale's digits, cheaper than a format spec.
    return f"{whole}.{str(part + scale)[1:].rstrip('0')}"


def format_duration(seconds: float) -> str:
    """Format ``seconds`` as Go's ``time.Duration.String``, rounded to the nanosecond."""
    return format_duration_ns(round(seconds * 1e9))
