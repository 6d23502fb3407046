"""Load balancing: choosing an instance per call, and retrying across instances.

Go kit's ``sd/lb`` package: a Balancer picks one endpoint from an Endpointer (round
robin, random, power of two choices), and ``Retry`` wraps a Balancer in an Endpoint
that tries again on another instance, within one overall deadline. Beyond Go kit, each
a small piece that composes (source -> source, balancer -> balancer):

- ``RetryBudget``: retries limited to a share of the traffic (Finagle);
- ``AttemptTimeout``: each attempt's own timeout, so a hung instance leaves room to retry;
- ``PeakEwma``: P2C over peak-EWMA latency times calls in flight (Finagle, Linkerd);
- ``OutlierEjection``: failing instances ejected for a growing time (Envoy);
- ``Hedge``: a backup attempt when the first is slower than its recent p98 (Finagle, gRPC);
- ``HealthyEndpoints``: the older fixed pause after a failure.
"""

from __future__ import annotations

from kitcore.lb.attempt import AttemptTimeout
from kitcore.lb.balancer import Balancer, EndpointSource, no_endpoints
from kitcore.lb.budget import RetryBudget
from kitcore.lb.ewma import PeakEwma
from kitcore.lb.healthy import HealthyEndpoints
from kitcore.lb.hedge import Hedge
from kitcore.lb.latency import LatencyHistogram
from kitcore.lb.outlier import OutlierEjection
from kitcore.lb.power_of_two import PowerOfTwoChoices
from kitcore.lb.random import Random
from kitcore.lb.retry import Callback, Retry, RetryError, retry
from kitcore.lb.round_robin import RoundRobin

__all__ = [
    "AttemptTimeout",
    "Balancer",
    "Callback",
    "EndpointSource",
    "HealthyEndpoints",
    "Hedge",
    "LatencyHistogram",
    "OutlierEjection",
    "PeakEwma",
    "PowerOfTwoChoices",
    "Random",
    "Retry",
    "RetryBudget",
    "RetryError",
    "RoundRobin",
    "no_endpoints",
    "retry",
]
