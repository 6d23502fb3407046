"""Balancer: picks one endpoint per call from a source of endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from kitcore.endpoint import Endpoint
from kitcore.errors import Unavailable


@runtime_checkable
class EndpointSource(Protocol):
    """Anything that lists the current endpoints: an Endpointer, a FixedEndpointer."""

    async def endpoints(self) -> Sequence[Endpoint]:
        """Return the current endpoints."""
        ...


@runtime_checkable
class Balancer(Protocol):
    """Picks the endpoint for the next call."""

    async def endpoint(self) -> Endpoint:
        """Return an endpoint; raise ``Unavailable`` when there is none."""
        ...


def no_endpoints() -> Unavailable:
    """Return the error a balancer raises when its source has no endpoints."""
    return Unavailable("no endpoints available")
