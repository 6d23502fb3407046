"""Exponential backoff with full jitter, for retries and for discovery reconnects.

Retrying at once, or at a fixed interval, makes every client of a failing backend hit it
in lockstep. Capped exponential delays with "full jitter" (a uniform draw between zero
and the exponential delay) spread the retries out; see the AWS Architecture Blog,
"Exponential Backoff And Jitter".
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """Capped exponential delays: ``min(cap, base * factor ** attempt)``, jittered by default.

    ``rng`` may be injected for reproducible delays; it does not take part in equality.
    """

    base: float = 0.05
    cap: float = 5.0
    factor: float = 2.0
    jitter: bool = True
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0:
            raise ValueError(f"backoff base and cap must be >= 0, got {self.base}, {self.cap}")
        if self.factor < 1:
            raise ValueError(f"backoff factor must be >= 1, got {self.factor}")

    def delay(self, attempt: int) -> float:
        """Return the seconds to wait before retry number ``attempt`` (0 for the first retry)."""
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt}")
        try:
            exp = min(self.cap, self.base * self.factor**attempt)
        except OverflowError:
            # A long-failing backend reaches huge attempt numbers; the cap holds anyway.
            exp = self.cap
        return self.rng.uniform(0.0, exp) if self.jitter else exp

    async def sleep(self, attempt: int) -> None:
        """Sleep for ``delay(attempt)`` seconds."""
        await asyncio.sleep(self.delay(attempt))
