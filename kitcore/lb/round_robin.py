"""RoundRobin: each endpoint in turn."""

from __future__ import annotations

from kitcore.endpoint import Endpoint
from kitcore.lb.balancer import EndpointSource, no_endpoints


class RoundRobin:
    """A Balancer returning the source's endpoints in order, wrapping around."""

    def __init__(self, endpointer: EndpointSource) -> None:
        self._endpointer = endpointer
        self._next = 0
        self.choices = 2
        """How many endpoints the last pick chose from (``kitcore.lb.balancer.choices``)."""

    async def endpoint(self) -> Endpoint:
        """Return the next endpoint; raise ``Unavailable`` when there is none."""
        endpoints = await self._endpointer.endpoints()
        self.choices = len(endpoints)
        if not endpoints:
            raise no_endpoints()
        index = self._next
        self._next = index + 1
        return endpoints[index % len(endpoints)]
