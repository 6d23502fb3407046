"""Valuers: values computed each time a line is logged, such as the time and the caller.

The caller is found as Go kit's ``log.Caller(depth)`` finds it: walk up from the log call
past the logging machinery, then ``depth`` frames more. Code that logs on behalf of its
own caller (a helper ``def audit(logger, **kv)``) binds ``caller_at(1)``, as Go kit's
wrappers bind ``Caller(depth + 1)``; kitcore's own ``logging_middleware`` names the line
that made it, since the code it wraps has returned by the time it logs.
"""

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


def caller_frame(depth: int = 0) -> FrameType | None:
    """Return the frame of the code that called the logger (outside kitcore.log and logging).

    ``depth`` frames above it when ``depth`` > 0; None when the stack is not that deep.
    """
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name not in _MACHINERY and not name.startswith(_MACHINERY_PACKAGES):
            break
        frame = frame.f_back
    for _ in range(depth):
        if frame is None:
            break
        frame = frame.f_back
    return frame


def format_caller(frame: FrameType | None) -> str:
    """``file.py:line`` of ``frame`` (``?`` for None), as ``caller=`` writes it."""
    if frame is None:
        return "?"
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


class CallerValuer(Valuer):
    """The Valuer :func:`caller_at` returns: ``file.py:line``, ``depth`` frames above the call."""

    __slots__ = ("depth",)

    def __init__(self, depth: int) -> None:
        if depth < 0:
            raise ValueError(f"caller depth must be >= 0, got {depth}")
        self.depth = depth
        super().__init__(lambda: format_caller(caller_frame(depth)))

    def __repr__(self) -> str:
        return f"caller_at({self.depth})"


def caller_at(depth: int) -> CallerValuer:
    """Go kit's ``log.Caller(depth)``: the caller ``depth`` frames above the code that logged.

    ``caller_at(0)`` is :data:`caller`; a helper that logs for whoever called it binds
    ``caller_at(1)`` so that lines name the helper's caller, not the helper.
    """
    return CallerValuer(depth)


timestamp = utc_timestamp()
"""The time of the log call, UTC RFC 3339 with milliseconds (Go kit's DefaultTimestampUTC)."""

caller = caller_at(0)
"""``file.py:line`` of the code that called the logger, through ``with_`` and level helpers."""
