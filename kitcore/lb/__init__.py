"""Load balancing: choosing an instance per call, and retrying across instances.

Go kit's ``sd/lb`` package: a Balancer picks one endpoint from an Endpointer (round
robin, random, power of two choices), and ``Retry`` wraps a Balancer in an Endpoint that
tries again on another instance, within one overall deadline.
"""

from __future__ import annotations

from kitcore.lb.balancer import Balancer, EndpointSource, no_endpoints
from kitcore.lb.power_of_two import PowerOfTwoChoices
from kitcore.lb.random import Random
from kitcore.lb.retry import Callback, Retry, RetryError, retry
from kitcore.lb.round_robin import RoundRobin

__all__ = [
    "Balancer",
    "Callback",
    "EndpointSource",
    "PowerOfTwoChoices",
    "Random",
    "Retry",
    "RetryError",
    "RoundRobin",
    "no_endpoints",
    "retry",
]
