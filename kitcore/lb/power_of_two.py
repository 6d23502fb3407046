"""PowerOfTwoChoices: of two random endpoints, the one with fewer calls in flight.

Picking the less loaded of two random choices spreads load almost as well as asking
every endpoint, at constant cost, and steers calls away from slow instances (their
calls pile up). See Mitzenmacher, "The Power of Two Choices in Randomized Load
Balancing".
"""

from __future__ import annotations

import random
from typing import Any

from kitcore.endpoint import Endpoint
from kitcore.lb.balancer import EndpointSource, no_endpoints
from kitcore.lb.wrappers import Wrappers


class _Tracked:
    """An endpoint wrapper counting the calls in flight through it."""

    __slots__ = ("endpoint", "in_flight")

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.in_flight = 0

    async def __call__(self, request: Any) -> Any:
        self.in_flight += 1
        try:
            return await self.endpoint(request)
        finally:
            self.in_flight -= 1


class PowerOfTwoChoices:
    """A Balancer returning the less busy of two random endpoints.

    The returned endpoint is a wrapper, one per source endpoint (the same wrapper each
    time), that counts the calls in flight; wrappers of endpoints that left the source
    are dropped.
    """

    def __init__(self, endpointer: EndpointSource, rng: random.Random | None = None) -> None:
        self._endpointer = endpointer
        self._rng = rng or random.Random()
        self._tracked = Wrappers(_Tracked)
        self.choices = 2
        """How many endpoints the last pick chose from (``kitcore.lb.balancer.choices``)."""

    async def endpoint(self) -> Endpoint:
        """Return the less busy of two random endpoints; raise ``Unavailable`` if none."""
        endpoints = await self._endpointer.endpoints()
        self.choices = count = len(endpoints)
        if count == 0:
            raise no_endpoints()
        if count == 1:
            chosen = self._tracked.get(endpoints[0])
        else:
            i = self._rng.randrange(count)
            j = self._rng.randrange(count - 1)
            j += j >= i  # a second, distinct index
            a, b = self._tracked.get(endpoints[i]), self._tracked.get(endpoints[j])
            chosen = a if a.in_flight <= b.in_flight else b
        self._tracked.prune(endpoints)
        return chosen
