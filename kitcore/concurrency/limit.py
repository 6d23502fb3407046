"""Limit: how many calls may be in flight, updated from each finished call's latency."""

from __future__ import annotations

from typing import Protocol


class Limit(Protocol):
    """A concurrency limit algorithm, as Netflix concurrency-limits' ``Limit``.

    ``sample`` is called once per finished call that was admitted: its latency, the
    calls in flight when it was admitted, and whether it was dropped (timed out).
    """

    @property
    def limit(self) -> int:
        """The calls that may be in flight now (at least 1)."""
        ...

    def sample(self, rtt: float, inflight: int, dropped: bool) -> None:
        """Learn from one finished call: ``rtt`` seconds, admitted with ``inflight`` in flight."""
        ...


class FixedLimit:
    """A plain max-in-flight limit that never changes."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._limit = limit

    @property
    def limit(self) -> int:
        """The fixed limit."""
        return self._limit

    def sample(self, rtt: float, inflight: int, dropped: bool) -> None:
        """Ignore the sample: the limit is fixed."""

    def __repr__(self) -> str:
        return f"FixedLimit({self._limit})"
