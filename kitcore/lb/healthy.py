"""HealthyEndpoints: an endpoint source that sets aside, for a moment, instances that failed.

Round robin with retries alone can send every attempt of one call to the same dead
instance: under concurrent load, other calls move the shared round-robin counter
between two attempts of this one. Setting an instance aside as soon as a call to it
fails sends the retries to the others. It is tried again after the pause (it may have
come back); discovery drops it for good once it deregisters or its lease runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from kitcore.endpoint import Endpoint
from kitcore.lb.balancer import EndpointSource


class HealthyEndpoints:
    """The source's endpoints less those that failed in the last ``pause`` seconds.

    When every endpoint is set aside, all are returned: trying beats refusing.
    """

    def __init__(
        self,
        source: EndpointSource,
        pause: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._pause = pause
        self._clock = clock
        self._until: dict[Endpoint, float] = {}

    async def endpoints(self) -> Sequence[Endpoint]:
        """The current endpoints, without those set aside."""
        endpoints = await self._source.endpoints()
        if not self._until:
            return endpoints
        now = self._clock()
        self._until = {e: t for e, t in self._until.items() if t > now}
        healthy = tuple(e for e in endpoints if e not in self._until)
        return healthy or endpoints

    def failed(self, endpoint: Endpoint) -> None:
        """Set ``endpoint`` aside for ``pause`` seconds from now."""
        self._until[endpoint] = self._clock() + self._pause

    def forget(self, endpoint: Endpoint) -> None:
        """Drop what is known of ``endpoint`` (its instance left)."""
        self._until.pop(endpoint, None)
