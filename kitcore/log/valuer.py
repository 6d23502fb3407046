"""Valuers: values computed each time a line is logged, such as the time and the caller."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

# Frames of these modules are the logging machinery, never the caller a line is about.
_MACHINERY = frozenset({"kitcore.log", "logging"})
_MACHINERY_PACKAGES = ("kitcore.log.", "logging.")


class Valuer:
    """A context value computed at log time: ``logger.with_(ts=Valuer(clock))``."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn

    def __repr__(self) -> str:
        return f"Valuer({self.fn!r})"


def format_timestamp(seconds: float) -> str:
    """Format a Unix time as UTC RFC 3339 with milliseconds: ``2024-05-01T12:00:00.123Z``."""
    # Via whole microseconds, so that 70.999 (really 70.99899999...) is .999, not .998.
    whole, micros = divmod(round(seconds * 1_000_000), 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros // 1000:03d}Z"


def utc_timestamp(clock: Callable[[], float] = time.time) -> Valuer:
    """Return a Valuer giving ``clock()`` (Unix seconds) as UTC RFC 3339 with milliseconds."""
    # Lines in the same millisecond share one string, and the part up to the second is
    # formatted once a second: busy services log many lines a millisecond. The state is
    # one tuple, replaced whole, so threads never see half an update.
    state = (-1, "", -1, "")  # millisecond, its text, second, its text

    wall = clock is time.time
    time_ns = time.time_ns

    def now() -> str:
        nonlocal state
        # The wall clock in integer nanoseconds skips float rounding; other clocks go via
        # whole microseconds, as format_timestamp, so 70.999 is .999, not .998.
        milli = time_ns() // 1_000_000 if wall else round(clock() * 1_000_000) // 1000
        seen = state
        if milli == seen[0]:
            return seen[1]
        whole, part = divmod(milli, 1000)
        prefix = (
            seen[3] if whole == seen[2] else time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        )
        text = f"{prefix}.{part:03d}Z"
        state = (milli, text, whole, prefix)
        return text

    return Valuer(now)


def caller_frame() -> FrameType | None:
    """Return the frame of the code that called the logger (outside kitcore.log and logging)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name not in _MACHINERY and not name.startswith(_MACHINERY_PACKAGES):
            return frame
        frame = frame.f_back
    return None


def _caller() -> str:
    frame = caller_frame()
    if frame is None:
        return "?"
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


timestamp = utc_timestamp()
"""The time of the log call, UTC RFC 3339 with milliseconds (Go kit's DefaultTimestampUTC)."""

caller = Valuer(_caller)
"""``file.py:line`` of the code that called the logger, through ``with_`` and level helpers."""
