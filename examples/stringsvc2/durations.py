"""Durations written as Go writes them (``5.168µs``, ``4.39012ms``), for the tutorial's logs."""

from __future__ import annotations

_UNITS = (("µs", 1e3), ("ms", 1e6), ("s", 1e9))


def go_duration(seconds: float) -> str:
    """Format ``seconds`` as Go's ``time.Duration.String`` does."""
    ns = round(seconds * 1e9)
    if ns < 1000:
        return f"{ns}ns"
    for unit, scale in _UNITS:
        if ns < scale * 1000 or unit == "s":
            return f"{ns / scale:.9f}".rstrip("0").rstrip(".") + unit
    raise AssertionError("unreachable")
