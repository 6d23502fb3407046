"""Tracing: one tracer provider, its exporter and propagators, and every kit integration.

A service builds one (``Tracing.from_url("otlp://collector:4317?sample=0.1")``, or
through ``kit_register_tracing``: ``manager.open("tracing", url)``), passes it where it
traces, and closes it at shutdown to flush. Nothing global is touched unless
``install()`` is called (for libraries that use OpenTelemetry's global tracer).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

from kit_otel import carrier, client, config, http, sd, server
from kit_otel.processor import BoundedProcessor, CountingExporter
from kit_otel.propagation import propagator as make_propagator
from kitcore.endpoint import Middleware

if TYPE_CHECKING:
    import asyncio

    import aiohttp
    from opentelemetry.propagators.textmap import TextMapPropagator

    from kitcore.sd import Instancer

VERSION = "0.1.0"


def sampler_for(sample: float | None) -> Sampler | None:
    """Parent-based ratio sampling (None: the SDK's default or OTEL_TRACES_SAMPLER)."""
    if sample is None:
        return None
    if not 0.0 <= sample <= 1.0:
        raise ValueError(f"sample must be a ratio in [0, 1], got {sample}")
    return ParentBased(TraceIdRatioBased(sample))


class Tracing:
    """A tracer provider with its exporter and propagators; see the module docs.

    ``exporter`` None makes spans without exporting them (log correlation, exemplars).
    ``sample`` is the ratio of new traces sampled; a caller's decision is kept.
    ``processor="simple"`` exports as each span ends (tests, the console); the
    default batches in a background thread from a queue of ``queue`` spans.
    """

    def __init__(
        self,
        exporter: SpanExporter | None = None,
        *,
        service: str | None = None,
        sample: float | None = None,
        propagators: str | list[str] | None = None,
        processor: str = "batch",
        queue: int | None = None,
        batch: int | None = None,
        delay: float | None = None,
        resource: Mapping[str, Any] | None = None,
    ) -> None:
        disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
        sampler = ALWAYS_OFF if disabled else sampler_for(sample)
        attributes = dict(resource or {})
        if service:
            attributes["service.name"] = service
        self.provider = TracerProvider(sampler=sampler, resource=Resource.create(attributes))
        self.root_off = _root_off(self.provider.sampler)
        """True when no new trace is ever sampled: calls with no caller context skip tracing."""
        self.exporter = (
            CountingExporter(exporter) if exporter is not None and not disabled else None
        )
        self.processor: SpanProcessor | None = None
        if self.exporter is not None:
            if processor == "simple":
                self.processor = SimpleSpanProcessor(self.exporter)
            elif processor == "batch":
                if queue is not None and batch is None:
                    batch = min(queue, 512)  # the SDK refuses a batch larger than the queue
                self.processor = BoundedProcessor(
                    self.exporter,
                    max_queue_size=queue,
                    max_export_batch_size=batch,
                    schedule_delay_millis=delay,
                )
            else:
                raise ValueError(f"processor must be 'batch' or 'simple', got {processor!r}")
            self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer("kit_otel", VERSION)
        self.propagator: TextMapPropagator = make_propagator(propagators)

    @classmethod
    def from_url(cls, url: str = "otel", **options: Any) -> Tracing:
        """Build from a tracing URL (see ``kit_otel.config``); keywords override its options."""
        parsed = config.parse(url)
        values: dict[str, Any] = {**parsed.options, **options}
        exporter = values.pop("exporter", None)
        timeout = config.number(values, "timeout", float)
        values.pop("timeout", None)
        if exporter is None:
            exporter = config.exporter(parsed, timeout)
        for name, kind in (("sample", float), ("queue", int), ("batch", int), ("delay", float)):
            if name in values and isinstance(values[name], str):
                values[name] = config.number(values, name, kind)
        if parsed.scheme == "console":
            values.setdefault("processor", "simple")
        return cls(exporter, **values)

    # -- propagation --------------------------------------------------------------------

    def inject(self, metadata: MutableMapping[str, str], context: Context | None = None) -> None:
        """Write the current (or given) trace context into outgoing ``metadata``."""
        carrier.inject(self.propagator, metadata, context)

    def extract(self, metadata: Mapping[str, str] | None) -> Context | None:
        """The caller's context in incoming ``metadata``, or None (start a new trace)."""
        return carrier.extract(self.propagator, metadata)

    # -- transport-agnostic middlewares -------------------------------------------------

    def middleware(self, name: str) -> Middleware:
        """``kit_register_tracing``'s contract: a SERVER span around endpoint ``name``."""
        return server.server_middleware(self, name, system="kit")

    def server_middleware(self, method: str, **options: Any) -> Middleware:
        """A SERVER span per call: see ``kit_otel.server.server_middleware``."""
        return server.server_middleware(self, method, **options)

    def client_middleware(self, method: str, **options: Any) -> Middleware:
        """A CLIENT span per call: see ``kit_otel.client.client_middleware``."""
        return client.client_middleware(self, method, **options)

    def call_middleware(self, *, system: str = http.SYSTEM, **options: Any) -> Middleware:
        """The logical call's span, outside Retry: see ``kit_otel.client.call_middleware``."""
        return client.call_middleware(self, system=system, **options)

    def attempt_middleware(self, *, system: str = http.SYSTEM, **options: Any) -> Middleware:
        """A span per attempt, over each instance's endpoint (``connect(middleware=...)``)."""
        return client.attempt_middleware(self, system=system, **options)

    def connect(self, service: type[Any], target: str, **options: Any) -> Any:
        """``kitcore.connect`` with call and attempt spans: see ``kit_otel.connect``."""
        from kit_otel.connect import traced_connect

        return traced_connect(self, service, target, **options)

    def watch(self, instancer: Instancer, service: str = "") -> asyncio.Task[None]:
        """Record ``instancer``'s changes as span events until it closes."""
        return sd.watch_discovery(self, instancer, service)

    # -- kit-http -----------------------------------------------------------------------

    def http_server(
        self, service: object | None = None, *, prefix: str = "", service_name: str | None = None
    ) -> dict[str, Any]:
        """kit-http ``App`` options tracing every request: ``App(svc, **t.http_server(svc))``."""
        return http.HTTPServerTracing(
            self, service=service, prefix=prefix, service_name=service_name
        ).options()

    def http_client_before(self) -> Any:
        """A kit-http ``ClientEndpoint`` ``before`` option injecting the current context."""
        return http.client_before(self)

    def http_session(self, **options: Any) -> aiohttp.ClientSession:
        """An aiohttp session injecting the current context (``connect(..., session=...)``)."""
        return http.traced_session(self, **options)

    # -- kit-grpc and JSON-RPC -------------------------------------------------------

    def grpc_server(
        self,
        service: object | None = None,
        *,
        package: str | None = None,
        service_name: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        """kit-grpc server options tracing each call: ``add_service(s, svc, **t.grpc_server(svc))``.

        ``address`` (``host:port``) is recorded as ``server.address``/``server.port``.
        """
        from kit_otel.grpc import GRPCServerTracing

        return GRPCServerTracing(
            self, service=service, package=package, service_name=service_name, address=address
        ).options()

    def grpc_client_before(self) -> Any:
        """A kit-grpc client ``before`` option writing the current context into the metadata."""
        from kit_otel.grpc import client_before

        return client_before(self)

    def jsonrpc_server(
        self, service: object | None = None, *, service_name: str | None = None
    ) -> dict[str, Any]:
        """JSON-RPC options tracing each call: ``jsonrpc.app(svc, **t.jsonrpc_server(svc))``."""
        from kit_otel.jsonrpc import JSONRPCServerTracing

        return JSONRPCServerTracing(self, service=service, service_name=service_name).options()

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Spans lost: dropped by a full queue, plus those whose export failed."""
        lost = self.exporter.failed if self.exporter is not None else 0
        if isinstance(self.processor, BoundedProcessor):
            lost += self.processor.dropped
        return lost

    def flush(self, timeout: float = 30.0) -> bool:
        """Export every ended span now; False when ``timeout`` seconds were not enough."""
        return self.provider.force_flush(int(timeout * 1000))

    def install(self) -> None:
        """Make this provider OpenTelemetry's global one (for code using ``trace.get_tracer``)."""
        trace.set_tracer_provider(self.provider)

    def close(self) -> None:
        """Flush and stop exporting; idempotent."""
        self.provider.shutdown()


def _root_off(sampler: Sampler) -> bool:
    if sampler is ALWAYS_OFF:
        return True
    if isinstance(sampler, ParentBased):
        root = sampler._root  # the SDK exposes the root sampler only by this name
        return root is ALWAYS_OFF or (isinstance(root, TraceIdRatioBased) and root.rate == 0.0)
    return False
