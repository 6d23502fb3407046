"""OutlierEjection: an endpoint source that ejects failing instances for a growing time.

Discovery is slow to notice an instance that is up but broken (a bad deploy, a full
disk, a stopped process whose lease has not run out). As Envoy's outlier detection,
this source watches each instance's calls and ejects it

- after ``consecutive_failures`` failures in a row (not the caller's fault:
  ``NotFound`` says nothing of the instance's health; a timeout does, even one that
  cancels the call: see ``kitcore.lb.attempt.timed_out``), or
- when, over an ``interval``, its success rate falls more than ``success_rate_margin``
  below the fleet's mean (only instances with ``success_rate_volume`` calls count, and
  only when at least ``success_rate_min_hosts`` of them do),

for ``base_ejection`` seconds times 2^(ejections - 1), at most ``max_ejection``: an
instance that keeps failing stays out longer each time; each ``base_ejection`` it then
serves without being ejected again takes one step off. Never more than
``max_ejected_share`` of the fleet is out at once (but one may always go when there
are two or more), so a fleet-wide failure is not turned into "no instances"; a lone
instance is therefore never ejected, and its calls are not watched.

Use it between the Endpointer and the balancer (``connect`` does); it replaces the
fixed pause of ``HealthyEndpoints``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from kitcore.endpoint import Endpoint
from kitcore.errors import is_caller_fault
from kitcore.lb.attempt import timed_out
from kitcore.lb.balancer import EndpointSource
from kitcore.lb.wrappers import Wrappers


class _Watched:
    """An endpoint wrapper counting its outcomes for its OutlierEjection."""

    __slots__ = (
        "_owner",
        "calls",
        "consecutive",
        "ejected_until",
        "ejections",
        "endpoint",
        "failures",
        "healthy_since",
    )

    def __init__(self, endpoint: Endpoint, owner: OutlierEjection) -> None:
        self.endpoint = endpoint
        self._owner = owner
        self.consecutive = 0
        self.calls = 0
        self.failures = 0
        self.ejections = 0
        self.ejected_until: float | None = None
        self.healthy_since = 0.0

    async def __call__(self, request: Any) -> Any:
        try:
            result = await self.endpoint(request)
        except Exception as exc:
            if not is_caller_fault(exc):
                self._failed()
            raise
        except asyncio.CancelledError:
            if timed_out():  # cut by its timeout, not by its caller or a winning hedge
                self._failed()
            raise
        self.calls += 1
        self.consecutive = 0
        if self.ejections:
            self._owner._heal(self)
        return result

    def _failed(self) -> None:
        self.calls += 1
        self.failures += 1
        self.consecutive += 1
        if self.consecutive >= self._owner.consecutive_failures:
            self._owner._eject(self)


class OutlierEjection:
    """The source's endpoints (wrapped to count their outcomes) less the ejected ones."""

    def __init__(
        self,
        source: EndpointSource,
        *,
        consecutive_failures: int = 5,
        base_ejection: float = 5.0,
        max_ejection: float = 300.0,
        max_ejected_share: float = 0.5,
        interval: float = 10.0,
        success_rate_margin: float = 0.2,
        success_rate_volume: int = 20,
        success_rate_min_hosts: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if consecutive_failures < 1:
            raise ValueError(f"consecutive_failures must be >= 1, got {consecutive_failures}")
        if base_ejection <= 0 or max_ejection < base_ejection:
            raise ValueError("need 0 < base_ejection <= max_ejection")
        if not 0 <= max_ejected_share <= 1:
            raise ValueError(f"max_ejected_share must be in [0, 1], got {max_ejected_share}")
        self.consecutive_failures = consecutive_failures
        self.base_ejection = base_ejection
        self.max_ejection = max_ejection
        self.max_ejected_share = max_ejected_share
        self.interval = interval
        self.success_rate_margin = success_rate_margin
        self.success_rate_volume = success_rate_volume
        self.success_rate_min_hosts = success_rate_min_hosts
        self._source = source
        self._clock = clock
        self._watched: Wrappers[_Watched] = Wrappers(lambda e: _Watched(e, self))
        self._source_endpoints: Sequence[Endpoint] | None = None
        self._healthy: tuple[_Watched, ...] = ()
        self._ejected = 0
        self._next_return: float | None = None
        self._next_evaluation = clock() + interval
        self._stale = True

    async def endpoints(self) -> Sequence[Endpoint]:
        """The current endpoints, less those ejected (each wrapped to watch its calls)."""
        endpoints = await self._source.endpoints()
        if len(endpoints) < 2 and not self._allowed(len(endpoints)):
            # A lone instance is never ejected (at most a share of the fleet is), so
            # there is nothing to watch: its own endpoint, at no cost per call.
            return endpoints
        if endpoints is not self._source_endpoints:
            self._source_endpoints = endpoints
            self._stale = True
        if self._next_return is not None or self._clock() >= self._next_evaluation:
            self._expire()
        if self._stale:
            self._rebuild(endpoints)
        return self._healthy

    def ejected(self) -> list[Endpoint]:
        """The source endpoints ejected now."""
        return [w.endpoint for w in self._watched if w.ejected_until is not None]

    def _rebuild(self, endpoints: Sequence[Endpoint]) -> None:
        watched = [self._watched.get(e) for e in endpoints]
        self._watched.prune(endpoints)
        self._healthy = tuple(w for w in watched if w.ejected_until is None)
        self._ejected = len(watched) - len(self._healthy)
        self._stale = False

    def _expire(self) -> None:
        now = self._clock()
        if self._next_return is not None and now >= self._next_return:
            self._next_return = None
            for w in self._watched:
                if w.ejected_until is not None:
                    if w.ejected_until <= now:
                        w.ejected_until = None
                        w.consecutive = 0
                        w.healthy_since = now
                        self._stale = True
                    else:
                        self._schedule(w.ejected_until)
        if now >= self._next_evaluation:
            self._next_evaluation = now + self.interval
            self._evaluate_success_rates()

    def _schedule(self, instant: float) -> None:
        if self._next_return is None or instant < self._next_return:
            self._next_return = instant

    def _allowed(self, fleet: int) -> int:
        """How many instances of a fleet of ``fleet`` may be out at once."""
        allowed = math.floor(self.max_ejected_share * fleet)
        if fleet >= 2 and self.max_ejected_share > 0:
            allowed = max(allowed, 1)
        return allowed

    def _may_eject(self) -> bool:
        return self._ejected < self._allowed(len(self._healthy) + self._ejected)

    def _eject(self, watched: _Watched) -> None:
        if watched.ejected_until is not None or watched not in self._healthy:
            return  # already out, or no longer in the source
        if not self._may_eject():
            return
        watched.ejections += 1
        seconds = min(self.base_ejection * 2 ** (watched.ejections - 1), self.max_ejection)
        watched.ejected_until = self._clock() + seconds
        self._schedule(watched.ejected_until)
        self._healthy = tuple(w for w in self._healthy if w is not watched)
        self._ejected += 1

    def _heal(self, watched: _Watched) -> None:
        now = self._clock()
        if now - watched.healthy_since >= self.base_ejection:
            watched.ejections -= 1
            watched.healthy_since = now

    def _evaluate_success_rates(self) -> None:
        candidates = [w for w in self._healthy if w.calls >= self.success_rate_volume]
        rates = {w: 1.0 - w.failures / w.calls for w in candidates}
        for w in self._watched:
            w.calls = w.failures = 0
        if len(rates) < self.success_rate_min_hosts:
            return
        mean = sum(rates.values()) / len(rates)
        for w, rate in sorted(rates.items(), key=lambda item: item[1]):
            if rate < mean - self.success_rate_margin:
                self._eject(w)
