"""The hooks a kit plugin may implement, each with its exact signature.

Hooks are synchronous registration hooks (pluggy has no async hooks): each is called
once, when the plugin manager loads, with a ``register`` callable bound to the calling
plugin, so that a name two plugins both claim is reported against the second one.

``register(name, factory, **meta)`` adds a named backend of the hook's kind:

- ``name``: the backend's name or URL scheme (``"http"``, ``"etcd"``, ``"prometheus"``).
- ``factory``: the callable that builds the backend; what it takes is fixed per kind below.
- ``**meta``: kind-specific extras, e.g. ``registrar=`` for discovery and ``description=``.

A plugin marks its implementations with ``kitcore.hookimpl``::

    from kitcore import hookimpl

    @hookimpl
    def kit_register_discovery(register):
        register("etcd", EtcdInstancer.from_url, registrar=EtcdRegistrar.from_url)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import click

PROJECT = "kit"
hookspec = pluggy.HookspecMarker(PROJECT)
"""Marks a function of this module as a hook specification of the ``kit`` project."""
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's function as its implementation of the hook of the same name."""


class Register(Protocol):
    """The ``register`` callable passed to every registration hook."""

    def __call__(self, name: str, factory: Callable[..., Any], /, **meta: Any) -> None:
        """Add the backend ``name`` built by ``factory``."""


@hookspec
def kit_register_transports(register: Register) -> None:
    """Register transports by URL scheme.

    ``register(scheme, client_factory, server=...)``: ``client_factory(spec, instance,
    **options) -> (endpoint, closer)`` builds, for a ``kitcore.service.ServiceSpec`` and
    one instance address (``"host:port"``; for a message transport the target URL less
    its scheme, path and user info included: ``"host:4222/subject"``,
    ``"guest:guest@host:5672/queue"``), a client Endpoint that takes a
    ``kitcore.client.Call`` and returns the method's result; ``closer`` (or None) releases
    its connections. ``server`` (optional) is ``server(target, url, **options)``
    serving a service instance, an endpoint set or an app at ``url``.
    """


@hookspec
def kit_register_discovery(register: Register) -> None:
    """Register service discovery backends by URL scheme.

    ``register(scheme, instancer_factory, registrar=registrar_factory)``:
    ``instancer_factory(url, **options) -> kitcore.sd.Instancer``;
    ``registrar_factory(url, instance, **options) -> kitcore.sd.Registrar``, or omitted
    when the backend cannot register (DNS SRV).
    """


@hookspec
def kit_register_metrics(register: Register) -> None:
    """Register metrics providers: ``register(name, provider_factory)``.

    ``provider_factory(url, **options) -> kitcore.metrics.Provider``; ``url`` is the
    configured string, e.g. ``"statsd://127.0.0.1:8125?prefix=svc"`` or ``"prometheus"``.
    """


@hookspec
def kit_register_tracing(register: Register) -> None:
    """Register tracers: ``register(name, tracing_factory)``.

    ``tracing_factory(url, **options)`` returns a tracer object; ``name`` is the URL
    scheme or bare name it serves (``otlp``, ``zipkin``, ``console``, ``opentracing``).
    Every tracer object has:

    - ``middleware(name)``: a server-side Middleware tracing the endpoint ``name``; its
      parent is read from the incoming metadata a transport binds into
      ``kitcore.context`` under ``"kit.metadata"`` (a mapping of lower-case str to str:
      HTTP headers, gRPC metadata), when there is one.
    - ``server_middleware(method, *, system, service=None, metadata=None)`` and
      ``client_middleware(method, *, system, service=None)``: the same for a transport
      that names itself (``rpc.system``: ``"grpc"``, ``"jsonrpc"``) and the service;
      ``metadata()`` returns the incoming metadata. The client span is current while
      the wrapped endpoint runs, so the transport injects it with ``inject``.
    - ``inject(metadata)``: write the current trace context into an outgoing mutable
      mapping of str to str; ``extract(metadata)``: the caller's context, or None.
    - ``close()``: flush what is buffered and stop.

    A malformed incoming trace context starts a new trace; it never fails the call.
    """


@hookspec
def kit_register_breakers(register: Register) -> None:
    """Register circuit breakers: ``register(name, breaker_factory)``.

    ``breaker_factory(url, **options) -> kitcore.circuitbreaker.Breaker``; ``url`` is the
    configured name or URL (``"pybreaker"``, ``"pybreaker://redis-host:6379"``).
    """


@hookspec
def kit_register_limiters(register: Register) -> None:
    """Register rate limiters: ``register(name, limiter_factory)``.

    ``limiter_factory(url, **options)`` returns a ``kitcore.ratelimit.Allower`` or
    ``Waiter``; ``url`` is the configured name or URL (``"pyrate"``, ``"redis://h:6379/0"``).
    """


@hookspec
def kit_register_commands(cli: click.Group) -> None:
    """Add subcommands to ``cli``, the click group of the ``kit`` command."""


KINDS: dict[str, str] = {
    "kit_register_transports": "transports",
    "kit_register_discovery": "discovery",
    "kit_register_metrics": "metrics",
    "kit_register_tracing": "tracing",
    "kit_register_breakers": "breakers",
    "kit_register_limiters": "limiters",
}
"""Registration hook name -> the kind of backend it registers."""

PROVIDERS: dict[str, dict[str, str]] = {
    "transports": {
        "http": "kit-http",
        "https": "kit-http",
        "jsonrpc": "kit-http",
        "grpc": "kit-grpc",
        "nats": "kit-nats",
        "amqp": "kit-amqp",
    },
    "discovery": {
        "consul": "kit-consul",
        "etcd": "kit-etcd",
        "zk": "kit-zookeeper",
        "dnssrv": "kit-dnssrv",
    },
    "metrics": {"prometheus": "kit-prometheus", "statsd": "kit-statsd", "dogstatsd": "kit-statsd"},
    "tracing": {"otel": "kit-otel", "opentracing": "kit-opentracing"},
    "breakers": {"pybreaker": "kit-pybreaker"},
    "limiters": {"pyrate": "kit-ratelimit", "redis": "kit-ratelimit"},
}
"""Which first-party distribution provides a backend name, for 'install X' hints."""
