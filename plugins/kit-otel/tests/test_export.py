"""The real exporters on the wire: OTLP over HTTP and gRPC to receivers in the test that
decode the protobuf requests, and a down collector that never blocks or fails a request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest
from kit_http import App
from kit_http.testing import running
from kit_otel import Tracing
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from kitcore.testing.services import free_port

JSON = {"content-type": "application/json"}


class Receiver:
    """An OTLP/HTTP collector: keeps every decoded ExportTraceServiceRequest."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.content_types: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        self.content_types.append(headers.get(b"content-type", b"").decode())
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.requests.append(request)
        reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/x-protobuf")],
            }
        )
        await send({"type": "http.response.body", "body": reply})

    def spans(self) -> list[tuple[str, trace_pb2.Span]]:
        """Every (service.name, span) received."""
        out = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                names = [
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ]
                for scope_spans in resource_spans.scope_spans:
                    out += [(names[0] if names else "", s) for s in scope_spans.spans]
        return out


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC collector."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
async def collector() -> AsyncIterator[tuple[Collector, int]]:
    server = grpc.aio.server()
    servicer = Collector()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield servicer, port
    finally:
        await server.stop(None)


async def _serve_some(tracing: Tracing, svc: Any, bodies: list[bytes]) -> list[int]:
    service = svc.StringService()
    app = App(service, **tracing.http_server(service))
    statuses = []
    async with running(app) as base, aiohttp.ClientSession() as session:
        for body in bodies:
            async with session.post(base + "/uppercase", data=body, headers=JSON) as reply:
                statuses.append(reply.status)
    return statuses


def _attributes(span: trace_pb2.Span) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in span.attributes:
        kind = a.value.WhichOneof("value")
        out[a.key] = getattr(a.value, kind)
    return out


async def test_otlp_http_wire_form(svc) -> None:
    receiver = Receiver()
    async with running(receiver) as collector_url:
        url = collector_url.replace("http://", "otlp+http://") + "?service=edge&sample=1"
        tracing = Tracing.from_url(url)
        try:
            statuses = await _serve_some(tracing, svc, [b'{"s": "a"}', b'{"s": ""}'])
            # The export runs on the SDK's thread and its receiver on this loop.
            assert await asyncio.to_thread(tracing.flush, 10)
        finally:
            await asyncio.to_thread(tracing.close)
    assert statuses == [200, 400]
    assert set(receiver.content_types) == {"application/x-protobuf"}
    spans = receiver.spans()
    assert [name for name, _ in spans] == ["edge", "edge"]
    ok, refused = (s for _, s in spans)
    assert ok.name == "StringService/uppercase"
    assert ok.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert len(ok.trace_id) == 16 and len(ok.span_id) == 8
    assert ok.parent_span_id == b""
    attrs = _attributes(ok)
    assert attrs["rpc.method"] == "uppercase"
    assert attrs["http.response.status_code"] == 200
    assert ok.status.code == trace_pb2.Status.STATUS_CODE_UNSET
    assert _attributes(refused)["error.type"] == "invalid_argument"
    assert refused.status.code == trace_pb2.Status.STATUS_CODE_UNSET
    assert tracing.dropped == 0


async def test_otlp_grpc_wire_form(svc, collector) -> None:
    servicer, port = collector
    tracing = Tracing.from_url(f"otlp://127.0.0.1:{port}?service=grpc-export")
    try:
        assert await _serve_some(tracing, svc, [b'{"s": "x"}']) == [200]
        assert await asyncio.to_thread(tracing.flush, 10)
    finally:
        await asyncio.to_thread(tracing.close)
    (request,) = servicer.requests
    (resource_spans,) = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "grpc-export"
    (span,) = resource_spans.scope_spans[0].spans
    assert span.name == "StringService/uppercase"
    assert resource_spans.scope_spans[0].scope.name == "kit_otel"


async def test_down_collector_never_fails_requests_and_counts_losses(svc) -> None:
    down = free_port()  # nothing listens there
    tracing = Tracing.from_url(f"otlp+http://127.0.0.1:{down}?queue=4&batch=2&timeout=1")
    try:
        statuses = await _serve_some(tracing, svc, [b'{"s": "a"}'] * 20)
    finally:
        await asyncio.to_thread(tracing.close)
    assert statuses == [200] * 20
    assert tracing.exporter is not None and tracing.exporter.exported == 0
    # Every span was either dropped by the full queue or lost with a failed export.
    assert tracing.dropped == 20
