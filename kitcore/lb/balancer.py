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
    """Picks the endpoint for the next call.

    A balancer may also keep ``choices``: how many endpoints its last pick chose from
    (kit's balancers do). Retry reads it through :func:`choices`: with one instance, an
    attempt cut short at its share of the deadline could only be retried at that same
    instance, which is still working on it, so it gets the whole deadline instead.
    """

    async def endpoint(self) -> Endpoint:
        """Return an endpoint; raise ``Unavailable`` when there is none."""
        ...


def choices(balancer: object) -> int:
    """How many endpoints ``balancer``'s last pick chose from (2 when it does not say)."""
    return getattr(balancer, "choices", 2)


def no_endpoints() -> Unavailable:
    """Return the error a balancer raises when its source has no endpoints."""
    return Unavailable("no endpoints available")
