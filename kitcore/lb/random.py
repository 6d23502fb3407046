"""Random: an endpoint chosen uniformly at random."""

from __future__ import annotations

import random

from kitcore.endpoint import Endpoint
from kitcore.lb.balancer import EndpointSource, no_endpoints


class Random:
    """A Balancer picking uniformly at random; pass ``rng`` for reproducible picks."""

    def __init__(self, endpointer: EndpointSource, rng: random.Random | None = None) -> None:
        self._endpointer = endpointer
        self._rng = rng or random.Random()
        self.choices = 2
        """How many endpoints the last pick chose from (``kitcore.lb.balancer.choices``)."""

    async def endpoint(self) -> Endpoint:
        """Return a random endpoint; raise ``Unavailable`` when there is none."""
        endpoints = await self._endpointer.endpoints()
        self.choices = len(endpoints)
        if not endpoints:
            raise no_endpoints()
        return endpoints[self._rng.randrange(len(endpoints))]
