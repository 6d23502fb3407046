"""Clients: from a service class and a target, an object with the service's methods.

The reverse of ``kitcore.service``: each method call builds the request Struct and sends
a ``Call`` down a chain of small parts, each replaceable by an option of ``connect``:

    Retry (deadline, per-attempt timeouts, retry budget)
      -> Hedge (backup attempts, idempotent methods only)
        -> balancer (PeakEwma by default)
          -> OutlierEjection -> Endpointer (discovery)
            -> instance middleware -> the transport's per-instance client endpoint

The target is a transport URL (``http://host:port``: one instance) or any discovery URL
(``etcd://...``, ``static://...``); the transport comes from the target's scheme or the
``transport`` argument.

A streaming method (one that yields: ``kitcore.stream``) returns an async iterator
instead of a coroutine: ``async for item in remote.watch(...)``. The chain opens the
stream, so retries, balancing and per-attempt timeouts apply up to the first item; the
deadline (``timeout``, or the caller's earlier one) covers the whole stream. Streams
are never hedged.

``connect()`` is typed as returning the service class itself, so a type checker sees
each method's parameters and result; ``kitcore.close(remote)`` and
``async with kitcore.closing(connect(...)) as remote`` close it, typed as well.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from kitcore.endpoint import Endpoint, Middleware
from kitcore.plugins import BackendNotFound, Plugins, plugins, scheme
from kitcore.service import Method, ServiceSpec, describe
from kitcore.stream import StreamCall

if TYPE_CHECKING:
    from kitcore.lb import AttemptTimeout, Balancer, EndpointSource, RetryBudget

S = TypeVar("S")


class Call(msgspec.Struct, frozen=True):
    """One call through a client endpoint: the method and its request Struct."""

    # A Struct, not a frozen dataclass: one is made per call, and a dataclass's
    # frozen __init__ costs several times as much.
    method: Method
    request: msgspec.Struct


def method_name(call: Call) -> str:
    """The key per-method estimates (attempt timeouts, hedging delays) are kept by."""
    return call.method.name


def is_idempotent(call: Call) -> bool:
    """True for calls of methods marked ``@method(idempotent=True)``: they may be hedged.

    Streams are not: a losing backup would hold a second stream open.
    """
    return call.method.idempotent and not call.method.streaming


class Client(Generic[S]):
    """A remote service: its methods, called through discovery, balancing and retries."""

    def __init__(self, spec: ServiceSpec, endpoint: Endpoint, closers: list[Any]) -> None:
        self._spec = spec
        self._endpoint = endpoint
        self._closers = closers
        for m in spec.methods.values():
            setattr(self, m.attr, self._bind(m))

    def _bind(self, m: Method) -> Callable[..., Any]:
        from kitcore.lb import RetryError

        endpoint = self._endpoint
        # A method of plain parameters takes them as its request Struct does.
        make = m.request_type if m.positional else m.request
        if m.streaming:

            def stream(*args: Any, **kwargs: Any) -> StreamCall[Any]:
                return StreamCall(endpoint, Call(m, make(*args, **kwargs)), _public)

            stream.__name__ = m.attr
            stream.__doc__ = m.description
            return stream

        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return await endpoint(Call(m, make(*args, **kwargs)))
            except RetryError as exc:
                # The caller sees the final error's own type (Unavailable stays
                # Unavailable) with a generic message; every attempt's error, with its
                # addresses, stays on __cause__ for logs and traces.
                raise exc.public() from exc

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


def _public(error: BaseException) -> BaseException | None:
    """What a stream's caller sees of a failed opening: as ``Client._bind``'s calls do."""
    from kitcore.lb import RetryError

    return error.public() if isinstance(error, RetryError) else None


async def close(remote: object) -> None:
    """Close a client made by ``connect()``: stop discovery, close its connections."""
    if not isinstance(remote, Client):
        raise TypeError(f"not a kitcore client: {remote!r}")
    await remote.close()


@contextlib.asynccontextmanager
async def closing(remote: S) -> AsyncIterator[S]:
    """``async with closing(connect(S, url)) as remote``: the client, closed at the end."""
    try:
        yield remote
    finally:
        await close(remote)


def _check_target(service: str, target: str) -> None:
    if "://" not in target:
        raise ValueError(
            f"connect({service}, {target!r}): the target has no scheme; write "
            f"'http://{target}' for one instance, or a discovery URL such as "
            f"'static://{target}' or 'etcd://host:2379/prefix'"
        )


def connect(
    service: type[S],
    target: str,
    *,
    transport: str | None = None,
    max_attempts: int = 3,
    timeout: float = 10.0,
    middleware: Middleware | None = None,
    instance_middleware: Callable[[str], Middleware] | None = None,
    balancer: Callable[[EndpointSource], Balancer] | None = None,
    outliers: Callable[[EndpointSource], EndpointSource] | bool = True,
    retry_budget: RetryBudget | bool = True,
    attempt_timeout: AttemptTimeout | bool = True,
    hedge: float | None = 0.02,
    logger: Any = None,
    manager: Plugins | None = None,
    **options: Any,
) -> S:
    """Connect to ``service`` at ``target``: an object with its methods, typed as ``service``.

    Every default is on; each option takes ``False``/``None`` to switch its part off,
    or an object to configure it:

    - ``max_attempts``, ``timeout``: the Retry: attempts, and one deadline for them all;
    - ``attempt_timeout``: an ``AttemptTimeout`` (True: the default one, per method);
    - ``retry_budget``: a ``RetryBudget`` shared by the client's calls (True: 10 s,
      10/s, 20%), so an outage costs at most about 1.2x the load;
    - ``hedge``: the extra load hedging may add to methods marked
      ``@method(idempotent=True)`` (2%); None: no hedging;
    - ``balancer``: ``source -> Balancer`` (default ``PeakEwma``; ``RoundRobin`` is Go
      kit's);
    - ``outliers``: ``source -> source`` ejecting failing instances (True:
      ``OutlierEjection`` with its defaults);
    - ``instance_middleware``: ``instance -> Middleware``, one per instance (a breaker
      named after its instance); ``middleware``: one Middleware object wrapping every
      instance's endpoint (shared state: one breaker for all);
    - ``options`` go to the transport's client factory.
    """
    from kitcore.lb import (
        AttemptTimeout,
        Hedge,
        OutlierEjection,
        PeakEwma,
        Retry,
        RetryBudget,
    )
    from kitcore.sd import Endpointer, FixedInstancer

    manager = manager or plugins()
    spec = describe(service)
    _check_target(spec.name, target)
    target_scheme = scheme(target)
    try:
        transport_backend = manager.backend("transports", target_scheme)
    except BackendNotFound:
        if transport is None and target_scheme not in manager.registry.names("discovery"):
            raise
        transport_backend = None
    if transport_backend is not None and transport is None:
        instancer: Any = FixedInstancer([target.split("://", 1)[1].rstrip("/")])
    else:
        transport_backend = manager.backend("transports", transport or "http")
        instancer = manager.open("discovery", target)
    make = transport_backend.factory

    def factory(instance: str) -> Any:
        endpoint, closer = make(spec, instance, **options)
        if instance_middleware is not None:
            endpoint = instance_middleware(instance)(endpoint)
        if middleware is not None:
            endpoint = middleware(endpoint)
        return endpoint, closer

    endpointer = Endpointer(instancer, factory, logger=logger)
    source: EndpointSource = endpointer
    if outliers is True:
        source = OutlierEjection(source)
    elif outliers is not False:
        source = outliers(source)
    chosen: Balancer = (balancer or PeakEwma)(source)
    if hedge and any(m.idempotent and not m.streaming for m in spec.methods.values()):
        chosen = Hedge(chosen, extra_load=hedge, allowed=is_idempotent, key=method_name)
    budget = RetryBudget() if retry_budget is True else retry_budget or None
    per_attempt = (
        AttemptTimeout(key=method_name) if attempt_timeout is True else attempt_timeout or None
    )
    endpoint = Retry(max_attempts, timeout, chosen, budget=budget, attempt_timeout=per_attempt)
    client: Client[S] = Client(spec, endpoint, [instancer.close, endpointer.close])
    return client  # type: ignore[return-value]  # typed as the service: see the docstring
