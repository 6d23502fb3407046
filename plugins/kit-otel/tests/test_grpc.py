"""kit-grpc tracing on real gRPC servers: server spans by the RPC conventions, status from
kit's typed errors, W3C and B3 in the metadata, client spans through kitcore.connect, and
malformed trace context that starts a new trace without failing the call."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from kit_grpc.testing import running
from kit_otel import Tracing
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import kitcore
from kitcore import InvalidArgument, Unavailable


async def _server_span(memory):
    """The one server span, once ended.

    grpc.aio's abort sends the error status before the handler returns, so the client
    can see a failed call before the finalizer has ended the server's span.
    """
    for _ in range(500):
        spans = [s for s in memory.spans() if s.kind is SpanKind.SERVER]
        if spans:
            break
        await asyncio.sleep(0.01)
    (span,) = spans
    return span


async def test_server_spans_follow_the_rpc_conventions(memory, svc) -> None:
    service = svc.StringService()
    tracing = memory.tracing
    async with (
        running(service, **tracing.grpc_server(service)) as address,
        kitcore.connect(
            svc.StringService,
            f"grpc://{address}",
            before=tracing.grpc_client_before(),
            max_attempts=1,
        ) as client,
    ):
        with tracing.tracer.start_as_current_span("caller", kind=SpanKind.CLIENT) as caller:
            assert await client.uppercase("a") == "A"
        span = await _server_span(memory)
        assert span.name == "kit.StringService/Uppercase"
        assert span.parent is not None and span.parent.is_remote
        assert span.parent.span_id == caller.get_span_context().span_id
        assert span.context.trace_id == caller.get_span_context().trace_id
        attributes = dict(span.attributes)
        assert attributes == {
            "rpc.system": "grpc",
            "rpc.service": "kit.StringService",
            "rpc.method": "Uppercase",
            "rpc.grpc.status_code": 0,
        }
        assert span.status.status_code is StatusCode.UNSET

        memory.exporter.clear()
        with pytest.raises(InvalidArgument):
            await client.uppercase("")
        span = await _server_span(memory)
        assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert span.attributes["error.type"] == "invalid_argument"
        assert span.status.status_code is StatusCode.UNSET  # the caller's fault

        memory.exporter.clear()
        with pytest.raises(Unavailable):
            await client.broken("a")
        span = await _server_span(memory)
        assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAVAILABLE.value[0]
        assert span.attributes["error.type"] == "unavailable"
        assert span.status.status_code is StatusCode.ERROR
        assert span.parent is None  # no caller context: a trace of its own


async def test_server_address_and_a_message_refused_before_the_endpoint(memory, svc) -> None:
    service = svc.StringService()
    options = memory.tracing.grpc_server(service, address="127.0.0.1:50051")
    async with (
        running(service, **options) as address,
        grpc.aio.insecure_channel(address) as channel,
    ):
        call = channel.unary_unary("/kit.StringService/Uppercase")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(b"\xff\xff\xff")  # not a protobuf message
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    span = await _server_span(memory)
    assert span.name == "kit.StringService"  # the method was never reached
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == 50051
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert span.attributes["error.type"] == "invalid_argument"
    assert span.status.status_code is StatusCode.UNSET


async def test_b3_single_and_multi_in_the_metadata(svc) -> None:
    for propagators in ("b3", "b3multi"):
        exporter = InMemorySpanExporter()
        tracing = Tracing(exporter, processor="simple", propagators=propagators)
        service = svc.StringService()
        try:
            async with (
                running(service, **tracing.grpc_server(service)) as address,
                kitcore.connect(
                    svc.StringService, f"grpc://{address}", before=tracing.grpc_client_before()
                ) as client,
            ):
                with tracing.tracer.start_as_current_span("caller") as caller:
                    assert await client.uppercase("b") == "B"
        finally:
            tracing.close()
        (span,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
        assert span.parent is not None, propagators
        assert span.parent.span_id == caller.get_span_context().span_id, propagators


@pytest.mark.parametrize(
    "metadata",
    [
        [("traceparent", "00-zzzz-not-a-trace-context-01")],
        [("traceparent", "00-" + "0" * 32 + "-" + "0" * 16 + "-01")],  # all-zero ids
        [("traceparent", "x" * 5000)],
        [("b3", "garbage-b3-value-1")],
        [("x-b3-traceid", "nothex"), ("x-b3-spanid", "")],
        [("traceparent", ""), ("tracestate", "=,=")],
        [("grpc-trace-bin", b"\x00\xff"), ("b3", "1-2-3-4-5")],  # binary entries skipped
    ],
    ids=["w3c-garbage", "w3c-zero", "w3c-long", "b3-single", "b3-multi", "empty", "binary"],
)
async def test_malformed_trace_context_starts_a_new_trace(metadata, svc) -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing(exporter, processor="simple", propagators="tracecontext,b3,b3multi")
    service = svc.StringService()
    try:
        async with (
            running(service, **tracing.grpc_server(service)) as address,
            kitcore.connect(svc.StringService, f"grpc://{address}", metadata=metadata) as client,
        ):
            assert await client.uppercase("c") == "C"  # the call never fails
    finally:
        tracing.close()
    (span,) = exporter.get_finished_spans()
    assert span.parent is None and span.context.is_valid
    assert span.attributes["rpc.grpc.status_code"] == 0


async def test_connect_gives_call_and_attempt_spans_propagated_over_grpc(memory, svc) -> None:
    service = svc.StringService()
    tracing = memory.tracing
    async with (
        running(service, **tracing.grpc_server(service)) as address,
        tracing.connect(svc.StringService, f"grpc://{address}") as client,
    ):
        assert await client.uppercase("d") == "D"
    spans = {s.kind: s for s in memory.spans()}
    call, attempt, server = spans[SpanKind.INTERNAL], spans[SpanKind.CLIENT], spans[SpanKind.SERVER]
    for span in (call, attempt, server):
        assert span.name == "kit.StringService/Uppercase"
        assert span.attributes["rpc.system"] == "grpc"
        assert span.context.trace_id == call.context.trace_id
    assert attempt.parent.span_id == call.context.span_id
    assert server.parent.span_id == attempt.context.span_id and server.parent.is_remote
    host, port = address.rsplit(":", 1)
    assert attempt.attributes["server.address"] == host
    assert attempt.attributes["server.port"] == int(port)
    assert attempt.attributes["kit.attempt"] == 1


async def test_sampling_off_makes_no_spans_and_still_serves(svc) -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing(exporter, processor="simple", sample=0.0)
    service = svc.StringService()
    try:
        async with (
            running(service, **tracing.grpc_server(service)) as address,
            tracing.connect(svc.StringService, f"grpc://{address}") as client,
        ):
            assert await client.uppercase("e") == "E"
            with pytest.raises(InvalidArgument):
                await client.uppercase("")
    finally:
        tracing.close()
    assert exporter.get_finished_spans() == ()


async def test_sampling_off_keeps_a_sampled_callers_decision(memory, svc) -> None:
    off = Tracing(memory.exporter, service="off", processor="simple", sample=0.0)
    service = svc.StringService()
    try:
        async with (
            running(service, **off.grpc_server(service)) as address,
            off.connect(svc.StringService, f"grpc://{address}") as client,
        ):
            with memory.tracing.tracer.start_as_current_span("sampled caller") as caller:
                assert await client.uppercase("f") == "F"
    finally:
        off.close()
    spans = [s for s in memory.spans() if s.name != "sampled caller"]
    assert sorted(s.kind.name for s in spans) == ["CLIENT", "INTERNAL", "SERVER"]
    assert {s.context.trace_id for s in spans} == {caller.get_span_context().trace_id}
