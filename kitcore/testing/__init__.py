"""Conformance suites for plugin authors: ``from kitcore.testing import check_instancer``.

Each suite checks one backend kind against the contract the core relies on, with the
backend's real server; a failure is an AssertionError saying what was expected and seen:

- discovery: :func:`check_instancer` (with an :class:`InstancerDriver` changing the
  backend), :func:`check_registrar`; :class:`MemoryBackend` passes both;
- metrics: :func:`check_provider` (with a :class:`MetricsReader` reading values back);
- breakers: :func:`check_breaker`; limiters: :func:`check_allower`, :func:`check_waiter`;
- tracers: :func:`check_tracer` (the middleware is transparent; spans are the backend's);
- time: :class:`VirtualTimeLoop` (and ``kitcore.testing.virtual_time.run``): timeouts and
  deadlines on a clock that jumps to the next timer.

The real servers tests start (etcd, ZooKeeper, dnsmasq, Prometheus) are in
``kitcore.testing.servers``, and are pytest fixtures through kit's pytest plugin
(``kitcore.testing.pytest_plugin``, loaded by pytest itself); the suites as test classes
to subclass are in ``kitcore.testing.suites``. Names load on first use, so importing
one suite does not import the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kitcore.testing.breaker import check_breaker
    from kitcore.testing.limiter import check_allower, check_waiter
    from kitcore.testing.metrics import MemoryReader, MetricsReader, check_provider
    from kitcore.testing.sd import (
        InstancerDriver,
        MemoryBackend,
        check_instancer,
        check_registrar,
        registered_process,
    )
    from kitcore.testing.tracing import Tracer, check_tracer
    from kitcore.testing.virtual_time import VirtualTimeLoop

_LAZY = {
    "check_breaker": "kitcore.testing.breaker",
    "check_allower": "kitcore.testing.limiter",
    "check_waiter": "kitcore.testing.limiter",
    "check_provider": "kitcore.testing.metrics",
    "MemoryReader": "kitcore.testing.metrics",
    "MetricsReader": "kitcore.testing.metrics",
    "check_instancer": "kitcore.testing.sd",
    "check_registrar": "kitcore.testing.sd",
    "InstancerDriver": "kitcore.testing.sd",
    "MemoryBackend": "kitcore.testing.sd",
    "registered_process": "kitcore.testing.sd",
    "check_tracer": "kitcore.testing.tracing",
    "Tracer": "kitcore.testing.tracing",
    "VirtualTimeLoop": "kitcore.testing.virtual_time",
}

__all__ = [
    "InstancerDriver",
    "MemoryBackend",
    "MemoryReader",
    "MetricsReader",
    "Tracer",
    "VirtualTimeLoop",
    "check_allower",
    "check_breaker",
    "check_instancer",
    "check_provider",
    "check_registrar",
    "check_tracer",
    "check_waiter",
    "registered_process",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
