"""PeakEwma: power of two choices over peak-EWMA latency times calls in flight.

Counting calls in flight (``PowerOfTwoChoices``) notices a slow instance only once its
calls pile up; round robin never does. Finagle's P2C-EWMA (and Linkerd's balancer)
also weighs each instance by its recent latency: a moving average that jumps to a new
peak at once and decays slowly (``decay`` seconds), times its calls in flight plus one.
Of two random instances the cheaper one gets the call, so a 10x slower instance gets a
small share of the traffic, and it gets more again as it recovers.

Choices this module makes:

- The cost decays towards zero while an instance gets no calls, so a once-slow
  instance is tried again later rather than starved for ever.
- A failure (not the caller's fault) counts as a call of ``penalty`` seconds, so an
  instance that fails fast does not draw the traffic by looking fast; so does a call
  cancelled by its timeout (``kitcore.lb.attempt.timed_out``), not one cancelled by its
  caller or by a hedge that won.
- Cold start: a new instance, not yet measured and idle, wins its pairings, so it gets
  a first call at once (a guessed cost higher than the others' would starve it). While
  that call is out, its cost is the time the call has taken so far, a lower bound of
  its latency, times its calls in flight plus one: it grows with every call sent and
  every millisecond waited, so the newcomer is not flooded (a cost of zero would draw
  every call), and a start-up burst does not all go to the one instance that failed
  fast and so was measured first (a fixed "busier than anything measured" would send
  it every call until the others' first calls answered).

- One instance: nothing to choose, so nothing is measured; its calls cost what round
  robin's do (the common ``connect(Service, "http://host:port")``).

Use it as the balancer of a client whose instances differ in speed (shared hosts,
noisy neighbours, a bad deploy); it costs two clock reads and two ``exp`` per call.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from kitcore.endpoint import Endpoint
from kitcore.errors import is_caller_fault
from kitcore.lb.attempt import timed_out
from kitcore.lb.balancer import EndpointSource, no_endpoints
from kitcore.lb.wrappers import Wrappers

_TICK = 1e-6  # seconds: the least an unmeasured instance's first call is taken to have lasted


class _Measured:
    """An endpoint wrapper keeping its peak-EWMA latency and its calls in flight."""

    __slots__ = ("_balancer", "_clock", "cost", "endpoint", "in_flight", "measured", "stamp")

    def __init__(self, endpoint: Endpoint, balancer: PeakEwma) -> None:
        self.endpoint = endpoint
        self._balancer = balancer
        self._clock = balancer._clock
        self.in_flight = 0
        self.cost = 0.0
        self.measured = False
        self.stamp = balancer._clock()

    def observe(self, rtt: float, now: float) -> None:
        """Fold one latency sample into the cost; a new peak replaces it at once."""
        if not self.measured:
            self.measured = True
            self.cost = rtt
        elif rtt > self.cost:
            self.cost = rtt
        else:
            w = math.exp(-max(now - self.stamp, 0.0) / self._balancer.decay)
            self.cost = self.cost * w + rtt * (1.0 - w)
        self.stamp = now

    def load(self, now: float) -> float:
        """The decayed cost times the calls in flight plus one (see cold start)."""
        if not self.measured:
            if self.in_flight == 0:
                return 0.0
            # stamp: when the oldest call now in flight started (set in __call__).
            return max(now - self.stamp, _TICK) * (self.in_flight + 1)
        w = math.exp(-max(now - self.stamp, 0.0) / self._balancer.decay)
        self.cost *= w
        self.stamp = now
        return self.cost * (self.in_flight + 1)

    async def __call__(self, request: Any) -> Any:
        clock = self._clock
        start = clock()
        if not self.in_flight and not self.measured:
            self.stamp = start  # the first call out: load() counts its time so far
        self.in_flight += 1
        try:
            result = await self.endpoint(request)
        except Exception as exc:
            now = clock()
            rtt = now - start
            if not is_caller_fault(exc):
                rtt = max(rtt, self._balancer.penalty)
            self.observe(rtt, now)
            raise
        except asyncio.CancelledError:
            if timed_out():  # cut by its timeout: as slow as a failure
                now = clock()
                self.observe(max(now - start, self._balancer.penalty), now)
            raise
        else:
            now = clock()
            self.observe(now - start, now)
            return result
        finally:
            self.in_flight -= 1


class PeakEwma:
    """A Balancer: of two random endpoints, the one with the lower peak-EWMA load."""

    def __init__(
        self,
        source: EndpointSource,
        *,
        decay: float = 10.0,
        penalty: float = 1.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if decay <= 0:
            raise ValueError(f"decay must be > 0, got {decay}")
        self.decay = decay
        self.penalty = penalty
        self._source = source
        self._rng = rng or random.Random()
        self._clock = clock
        self._measured: Wrappers[_Measured] = Wrappers(lambda e: _Measured(e, self))
        self._seen: Sequence[Endpoint] | None = None  # the source's list at the last prune
        self.choices = 2
        """How many endpoints the last pick chose from (``kitcore.lb.balancer.choices``)."""

    async def endpoint(self) -> Endpoint:
        """Return the cheaper of two random endpoints; raise ``Unavailable`` if none."""
        endpoints = await self._source.endpoints()
        self.choices = count = len(endpoints)
        if count == 0:
            raise no_endpoints()
        if count == 1:
            # Nothing to choose between: the call goes out unmeasured, and measuring
            # starts with a second instance (its first pairings go by calls in flight).
            chosen = endpoints[0]
        else:
            i = self._rng.randrange(count)
            j = self._rng.randrange(count - 1)
            j += j >= i  # a second, distinct index
            a, b = self._measured.get(endpoints[i]), self._measured.get(endpoints[j])
            now = self._clock()
            chosen = a if a.load(now) <= b.load(now) else b
        if endpoints is not self._seen:  # sources hand out the same list while unchanged
            self._measured.prune(endpoints)
            self._seen = endpoints
        return chosen

    def costs(self) -> dict[Endpoint, float | None]:
        """Each endpoint's peak-EWMA latency in seconds (None: not measured yet)."""
        now = self._clock()
        return {
            m.endpoint: m.load(now) / (m.in_flight + 1) if m.measured else None
            for m in self._measured
        }
