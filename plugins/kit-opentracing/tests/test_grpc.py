"""TraceServer / TraceClient over kit-grpc with GRPCToContext / ContextToGRPC, on a real
gRPC server, through opentracing's MockTracer and through OpenTelemetry's OpenTracing
shim: both tracers see the same spans; malformed metadata starts a new trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("kit_grpc")

from kit_grpc.client import ServiceClient
from kit_grpc.testing import running
from kit_opentracing import context_to_grpc, grpc_to_context, trace_client, trace_server
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.shim.opentracing_shim import create_tracer
from opentracing.mocktracer import MockTracer
from opentracing.scope_managers.contextvars import ContextVarsScopeManager

import kitcore
from kitcore import InvalidArgument, Unavailable
from kitcore.client import Call
from kitcore.errors import KitError
from kitcore.service import describe

Shape = list[tuple[str, str, "str | None", bool, "str | None"]]
"""(operation, span.kind, parent operation, error tag, component) per finished span."""


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
                s.tags.get("component"),
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
                s.attributes.get("component"),
            )
            for s in spans
        )

    return tracer, shape


def _server_options(tracer: Any) -> dict[str, Any]:
    return {
        "before": grpc_to_context(tracer, "server"),
        "named_middleware": lambda name: trace_server(tracer, name),
    }


EXPECTED: Shape = sorted(
    [
        ("call uppercase", "client", None, False, None),
        ("uppercase", "server", "call uppercase", False, "grpc"),
        ("call uppercase", "client", None, True, None),  # the client failed its caller
        ("uppercase", "server", "call uppercase", False, "grpc"),  # the caller's fault
        ("call uppercase", "client", None, True, None),
        ("uppercase", "server", "call uppercase", True, "grpc"),
    ]
)


@pytest.mark.parametrize("make", [_mock, _shim], ids=["mocktracer", "otel-shim"])
async def test_server_and_client_spans_over_grpc(make: Callable[[], Any]) -> None:
    tracer, shape = make()
    spec = describe(StringService)
    method = spec.methods["uppercase"]
    outcomes: list[str] = []
    async with running(StringService(), **_server_options(tracer)) as address:
        endpoint = ServiceClient(spec, address, before=context_to_grpc(tracer))
        call = trace_client(tracer, "call uppercase")(endpoint)
        try:
            for s in ("a", "", "down"):
                try:
                    outcomes.append(await call(Call(method, method.request(s))))
                except KitError as exc:
                    outcomes.append(exc.code)
        finally:
            await endpoint.close()
    assert outcomes == ["A", "invalid_argument", "unavailable"]
    assert shape() == EXPECTED


@pytest.mark.parametrize("make", [_mock, _shim], ids=["mocktracer", "otel-shim"])
async def test_malformed_metadata_starts_a_new_trace(make: Callable[[], Any]) -> None:
    tracer, shape = make()
    garbage = [
        ("traceparent", "00-garbage-01"),
        ("ot-tracer-traceid", "zz"),
        ("ot-tracer-spanid", "not-hex"),
        ("ot-tracer-sampled", "maybe"),
        ("b3", "x-y-z"),
        ("trace-bin", b"\xff\x00"),
    ]
    async with (
        running(StringService(), **_server_options(tracer)) as address,
        kitcore.connect(
            StringService, f"grpc://{address}", metadata=garbage, max_attempts=1
        ) as client,
    ):
        assert await client.uppercase("x") == "X"  # the call never fails
    assert shape() == [("uppercase", "server", None, False, "grpc")]
