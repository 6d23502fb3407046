"""Clients: from a service class and a target, an object with the service's methods.

The reverse of ``kitcore.service``: each method call builds the request Struct, sends a
``Call`` through Retry -> Balancer -> Endpointer -> the transport's per-instance client
endpoint, and returns the decoded result. The target is a transport URL
(``http://host:port``: one instance) or any discovery URL (``etcd://...``, ``static://...``);
the transport comes from the target's scheme or the ``transport`` argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import is_caller_fault
from kitcore.plugins import BackendNotFound, Plugins, plugins, scheme
from kitcore.service import Method, ServiceSpec, describe

S = TypeVar("S")


@dataclass(frozen=True)
class Call:
    """One call through a client endpoint: the method and its request Struct."""

    method: Method
    request: msgspec.Struct


class Client(Generic[S]):
    """A remote service: its methods, called through discovery, balancing and retries."""

    def __init__(self, spec: ServiceSpec, endpoint: Endpoint, closers: list[Any]) -> None:
        self._spec = spec
        self._endpoint = endpoint
        self._closers = closers
        for m in spec.methods.values():
            setattr(self, m.attr, self._bind(m))

    def _bind(self, m: Method) -> Callable[..., Any]:
        endpoint = self._endpoint

        async def call(*args: Any, **kwargs: Any) -> Any:
            from kitcore.lb import RetryError

            try:
                return await endpoint(Call(m, m.request(*args, **kwargs)))
            except RetryError as exc:
                # The caller sees the final error's own type (NotFound stays NotFound);
                # every attempt's error stays reachable through __cause__.
                raise exc.final from exc

        call.__name__ = m.attr
        call.__doc__ = m.description
        return call

    async def close(self) -> None:
        """Stop discovery and close every connection the client opened."""
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            await close()

    async def __aenter__(self) -> Client[S]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def connect(
    service: type[S],
    target: str,
    *,
    transport: str | None = None,
    max_attempts: int = 3,
    timeout: float = 10.0,
    middleware: Middleware | None = None,
    logger: Any = None,
    pause: float = 1.0,
    manager: Plugins | None = None,
    **options: Any,
) -> Client[S]:
    """Connect to ``service`` at ``target``: a Client doing round robin + retry over its instances.

    An instance whose call just failed (not by the caller's fault) is set aside for
    ``pause`` seconds, so that retries go to the others. ``middleware`` wraps each
    instance's endpoint (a breaker, a limiter...); ``options`` go to the transport's
    client factory.
    """
    from kitcore.lb import HealthyEndpoints, Retry, RoundRobin
    from kitcore.sd import Endpointer, FixedInstancer

    manager = manager or plugins()
    spec = describe(service)
    target_scheme = scheme(target)
    try:
        transport_backend = manager.backend("transports", target_scheme)
    except BackendNotFound:
        if (
            transport is None
            and "://" in target
            and target_scheme not in manager.registry.names("discovery")
        ):
            raise
        transport_backend = None
    if transport_backend is not None and transport is None:
        instancer: Any = FixedInstancer([target.split("://", 1)[1].rstrip("/")])
    else:
        transport_backend = manager.backend("transports", transport or "http")
        instancer = manager.open("discovery", target)
    make = transport_backend.factory

    healthy: HealthyEndpoints

    def factory(instance: str) -> Any:
        endpoint, closer = make(spec, instance, **options)
        inner = middleware(endpoint) if middleware else endpoint

        async def guarded(call: Call) -> Any:
            try:
                return await inner(call)
            except Exception as exc:
                if not is_caller_fault(exc):
                    healthy.failed(guarded)
                raise

        return guarded, closer

    endpointer = Endpointer(instancer, factory, logger=logger)
    healthy = HealthyEndpoints(endpointer, pause)
    endpoint = Retry(max_attempts, timeout, RoundRobin(healthy))
    return Client(spec, endpoint, [instancer.close, endpointer.close])
