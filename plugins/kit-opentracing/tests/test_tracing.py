"""TraceServer / TraceClient over kit-http, through opentracing's MockTracer and through
OpenTelemetry's OpenTracing shim: both tracers see the same spans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kit_http import App
from kit_http.client import ClientEndpoint
from kit_http.testing import running
from kit_opentracing import (
    OpenTracing,
    context_to_http,
    extract_metadata,
    http_to_context,
    inject_metadata,
    trace_client,
    trace_server,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.shim.opentracing_shim import create_tracer
from opentracing.mocktracer import MockTracer
from opentracing.scope_managers.contextvars import ContextVarsScopeManager

from kitcore import InvalidArgument, Unavailable
from kitcore.errors import KitError
from kitcore.plugins import plugins

Shape = list[tuple[str, str, "str | None", bool]]
"""(operation, span.kind, parent operation, error tag) per finished span, sorted."""


class StringService:
    """Upper-cases; fails on request."""

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s``: empty is the caller's mistake, "down" the server's."""
        if not s:
            raise InvalidArgument("Empty string")
        if s == "down":
            raise Unavailable("backend down")
        return s.upper()


def _mock() -> tuple[Any, Callable[[], Shape]]:
    tracer = MockTracer(scope_manager=ContextVarsScopeManager())

    def shape() -> Shape:
        spans = tracer.finished_spans()
        names = {s.context.span_id: s.operation_name for s in spans}
        return sorted(
            (
                s.operation_name,
                s.tags.get("span.kind"),
                names.get(s.parent_id),
                bool(s.tags.get("error")),
            )
            for s in spans
        )

    return tracer, shape


def _shim() -> tuple[Any, Callable[[], Shape]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = create_tracer(provider)

    def shape() -> Shape:
        spans = exporter.get_finished_spans()
        names = {s.context.span_id: s.name for s in spans}
        return sorted(
            (
                s.name,
                s.attributes.get("span.kind"),
                names.get(s.parent.span_id) if s.parent else None,
                bool(s.attributes.get("error")),
            )
            for s in spans
        )

    return tracer, shape


async def _scenario(tracer: Any) -> list[str]:
    """One client call per input through kit-http, traced on both sides; the outcomes."""
    app = App(
        StringService(),
        before=http_to_context(tracer, "server"),
        named_middleware=lambda name: trace_server(tracer, name),
    )
    outcomes = []
    async with running(app) as base:
        endpoint = ClientEndpoint("POST", base + "/uppercase", before=context_to_http(tracer))
        call = trace_client(tracer, "call uppercase")(endpoint)
        try:
            for s in ("a", "", "down"):
                try:
                    outcomes.append(await call({"s": s}))
                except KitError as exc:
                    outcomes.append(exc.code)
        finally:
            await endpoint.close()
    return outcomes


EXPECTED: Shape = sorted(
    [
        ("call uppercase", "client", None, False),
        ("uppercase", "server", "call uppercase", False),
        ("call uppercase", "client", None, True),  # the client failed its caller
        ("uppercase", "server", "call uppercase", False),  # the caller's fault, not the server's
        ("call uppercase", "client", None, True),
        ("uppercase", "server", "call uppercase", True),
    ]
)


@pytest.mark.parametrize("make", [_mock, _shim], ids=["mocktracer", "otel-shim"])
async def test_server_and_client_spans_over_http(make: Callable[[], Any]) -> None:
    tracer, shape = make()
    assert await _scenario(tracer) == ["A", "invalid_argument", "unavailable"]
    assert shape() == EXPECTED


def _trace_id(context: Any) -> int:
    """A span context's trace id, for the mock's context and the shim's alike."""
    return int(context.unwrap().trace_id if hasattr(context, "unwrap") else context.trace_id)


@pytest.mark.parametrize("make", [_mock, _shim], ids=["mocktracer", "otel-shim"])
def test_metadata_round_trip_and_malformed_input(make: Callable[[], Any]) -> None:
    tracer, _ = make()
    span = tracer.start_span("out")
    metadata: dict[str, str] = {}
    inject_metadata(tracer, metadata, span)
    assert metadata and all(k == k.lower() for k in metadata)
    found = extract_metadata(tracer, metadata)
    assert found is not None and _trace_id(found) == _trace_id(span.context)
    span.finish()
    for bad in ({}, None, {"traceparent": "garbage", "ot-tracer-traceid": "zz"}):
        context = extract_metadata(tracer, bad)
        child = tracer.start_span("in", child_of=context)  # never raises: a new trace
        assert _trace_id(child.context) != _trace_id(span.context)
        child.finish()


def test_registered_as_a_tracing_backend() -> None:
    tracer = MockTracer()
    opened = plugins().open("tracing", "opentracing", tracer=tracer)
    assert isinstance(opened, OpenTracing) and opened.tracer is tracer
    with pytest.raises(ValueError):
        OpenTracing.from_url("opentracing://host:1")
