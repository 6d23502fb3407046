"""Server protection: admit only the concurrency a server can serve well, shed the rest at once.

A server with no admission control meets overload by queueing: every request waits
behind the others, latency grows with the queue, callers time out while the server
still works on their abandoned requests, and goodput collapses for everyone. Limiting
the calls in flight to what the server serves at its best, and refusing the excess at
once with :class:`Overloaded` (ResourceExhausted on the wire, HTTP 503 with
``Retry-After``), keeps its goodput at capacity and tells callers to go elsewhere
while there is still time to.

- :class:`FixedLimit`: a plain max-in-flight limit, for a capacity known up front.
- :class:`GradientLimit`: an adaptive limit, Envoy's adaptive concurrency gradient
  controller: it measures the no-load latency with the concurrency pinned low, then
  keeps the calls in flight where latency stays within 25 % of it.
- :class:`Limiter`: counts the calls in flight against a limit and feeds the limit
  each call's latency; :func:`concurrency_limit` is the Endpoint middleware around it
  (kit-http's ``kit_http.admission`` applies it before the request is even decoded).
- :class:`MinLatency` and :func:`deadline_aware`: refuse, before running it, a call
  whose remaining deadline is already below the method's observed minimum latency.
"""

from __future__ import annotations

from kitcore.concurrency.deadline import deadline_aware, too_late
from kitcore.concurrency.gradient import GradientLimit
from kitcore.concurrency.limit import FixedLimit, Limit
from kitcore.concurrency.limiter import Limiter, Overloaded, Permit
from kitcore.concurrency.middleware import concurrency_limit
from kitcore.concurrency.min_latency import MinLatency

__all__ = [
    "FixedLimit",
    "GradientLimit",
    "Limit",
    "Limiter",
    "MinLatency",
    "Overloaded",
    "Permit",
    "concurrency_limit",
    "deadline_aware",
    "too_late",
]
