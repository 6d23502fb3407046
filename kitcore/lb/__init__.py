"""Load balancing: choosing an instance per call, and retrying across instances.

Go kit's ``sd/lb`` package: a Balancer picks one endpoint from an Endpointer (round
robin, random, power of two choices), and ``Retry`` wraps a Balancer in an Endpoint
that tries again on another instance, within one overall deadline. HealthyEndpoints,
between the Endpointer and the Balancer, sets aside for a moment the instances whose
calls just failed, so that concurrent load cannot send every retry to a dead one.
"""

from __future__ import annotations

from kitcore.lb.balancer import Balancer, EndpointSource, no_endpoints
from kitcore.lb.healthy import HealthyEndpoints
from kitcore.lb.power_of_two import PowerOfTwoChoices
from kitcore.lb.random import Random
from kitcore.lb.retry import Callback, Retry, RetryError, retry
from kitcore.lb.round_robin import RoundRobin

__all__ = [
    "Balancer",
    "Callback",
    "EndpointSource",
    "HealthyEndpoints",
    "PowerOfTwoChoices",
    "Random",
    "Retry",
    "RetryError",
    "RoundRobin",
    "no_endpoints",
    "retry",
]
