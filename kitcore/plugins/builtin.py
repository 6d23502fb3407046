"""The core's own backends, registered through the same hooks as any plugin.

Imports happen inside the factories, so listing the built-ins costs nothing.
"""

from __future__ import annotations

from typing import Any

from kitcore.plugins.hookspecs import Register, hookimpl


def static_instancer(url: str, **options: Any) -> Any:
    """Open ``static://h1:p1,h2:p2``: a fixed set of instances."""
    from kitcore.sd.static import static_instancer as make

    return make(url, **options)


def memory_metrics(url: str, **options: Any) -> Any:
    """Open the in-memory metrics provider (``memory``)."""
    from kitcore.metrics import MemoryProvider

    return MemoryProvider(**options)


def discard_metrics(url: str, **options: Any) -> Any:
    """Open the metrics provider that discards everything (``discard``)."""
    from kitcore.metrics import DiscardProvider

    return DiscardProvider(**options)


def consecutive_breaker(url: str = "consecutive", **options: Any) -> Any:
    """Build the core's consecutive-failures circuit breaker."""
    from kitcore.circuitbreaker import ConsecutiveBreaker

    return ConsecutiveBreaker(**options)


def token_bucket(url: str = "token-bucket", **options: Any) -> Any:
    """Build the core's in-memory token bucket limiter."""
    from kitcore.ratelimit import TokenBucket

    return TokenBucket(**options)


@hookimpl
def kit_register_discovery(register: Register) -> None:
    """Register ``static://``."""
    register("static", static_instancer)


@hookimpl
def kit_register_metrics(register: Register) -> None:
    """Register the ``memory`` and ``discard`` providers."""
    register("memory", memory_metrics)
    register("discard", discard_metrics)


@hookimpl
def kit_register_breakers(register: Register) -> None:
    """Register the ``consecutive`` breaker."""
    register("consecutive", consecutive_breaker)


@hookimpl
def kit_register_limiters(register: Register) -> None:
    """Register the ``token-bucket`` limiter."""
    register("token-bucket", token_bucket)
