"""JSON-RPC tracing on a real kit-http JSON-RPC server: a SERVER span per call (batches
included) by the RPC conventions, error codes, the client's spans through kitcore.connect,
and malformed trace headers that start a new trace without failing the call."""

from __future__ import annotations

import aiohttp
import pytest
from kit_http import jsonrpc
from kit_http.testing import running
from opentelemetry.trace import SpanKind, StatusCode

from kitcore import InvalidArgument, Unavailable

CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
CALLER_TRACE = 0x0AF7651916CD43DD8448EB211C80319C
CALLER_SPAN = 0xB7AD6B7169203331


def _servers(memory):
    return [s for s in memory.spans() if s.kind is SpanKind.SERVER]


async def test_connect_and_server_spans(memory, svc) -> None:
    service = svc.StringService()
    tracing = memory.tracing
    app = jsonrpc.app(service, path="/rpc", **tracing.jsonrpc_server(service))
    async with running(app) as base:
        target = base.replace("http://", "jsonrpc://") + "/rpc"
        async with tracing.connect(svc.StringService, target, max_attempts=1) as client:
            assert await client.uppercase("a") == "A"
            spans = {s.kind: s for s in memory.spans()}
            call, attempt = spans[SpanKind.INTERNAL], spans[SpanKind.CLIENT]
            server = spans[SpanKind.SERVER]
            for span in (call, attempt, server):
                assert span.name == "StringService/uppercase"
                assert span.attributes["rpc.system"] == "jsonrpc"
                assert span.context.trace_id == call.context.trace_id
            assert attempt.parent.span_id == call.context.span_id
            assert server.parent.span_id == attempt.context.span_id and server.parent.is_remote
            assert dict(server.attributes) == {
                "rpc.system": "jsonrpc",
                "rpc.service": "StringService",
                "rpc.method": "uppercase",
                "rpc.jsonrpc.version": "2.0",
                "server.address": "127.0.0.1",
                "server.port": int(base.rsplit(":", 1)[1]),
            }
            assert attempt.attributes["server.address"] == "127.0.0.1"

            memory.exporter.clear()
            with pytest.raises(InvalidArgument):
                await client.uppercase("")
            (server,) = _servers(memory)
            assert server.attributes["rpc.jsonrpc.error_code"] == -32003
            assert server.attributes["rpc.jsonrpc.error_message"] == "Empty string"
            assert server.attributes["error.type"] == "invalid_argument"
            assert server.status.status_code is StatusCode.UNSET  # the caller's fault

            memory.exporter.clear()
            with pytest.raises(Unavailable):
                await client.broken("a")
            (server,) = _servers(memory)
            assert server.attributes["rpc.jsonrpc.error_code"] == -32014
            assert server.attributes["error.type"] == "unavailable"
            assert server.status.status_code is StatusCode.ERROR


async def test_a_batch_gets_a_span_per_call_under_the_callers(memory, svc) -> None:
    service = svc.StringService()
    app = jsonrpc.app(service, **memory.tracing.jsonrpc_server(service))
    batch = [
        {"jsonrpc": "2.0", "method": "uppercase", "params": {"s": "x"}, "id": 1},
        {"jsonrpc": "2.0", "method": "uppercase", "params": ["y"], "id": 2},
        {"jsonrpc": "2.0", "method": "nosuch", "id": 3},  # refused before any procedure
    ]
    async with (
        running(app) as base,
        aiohttp.ClientSession() as session,
        session.post(base + "/", json=batch, headers={"traceparent": CALLER}) as r,
    ):
        assert r.status == 200
        replies = sorted(await r.json(), key=lambda m: m["id"])
    assert [m.get("result") for m in replies] == ["X", "Y", None]
    assert replies[2]["error"]["code"] == -32601
    spans = _servers(memory)
    assert len(spans) == 2
    for span in spans:
        assert span.context.trace_id == CALLER_TRACE
        assert span.parent is not None and span.parent.span_id == CALLER_SPAN
        assert span.attributes["rpc.method"] == "uppercase"


@pytest.mark.parametrize(
    "headers",
    [
        {"traceparent": "00-garbage-01"},
        {"traceparent": "00-" + "0" * 32 + "-" + "0" * 16 + "-01"},
        {"b3": "not-a-b3-header"},
        {"x-b3-traceid": "zz", "x-b3-spanid": "-1"},
    ],
    ids=["w3c-garbage", "w3c-zero", "b3-single", "b3-multi"],
)
async def test_malformed_trace_headers_start_a_new_trace(headers, svc) -> None:
    from kit_otel import Tracing
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracing = Tracing(exporter, processor="simple", propagators="tracecontext,b3,b3multi")
    service = svc.StringService()
    body = {"jsonrpc": "2.0", "method": "uppercase", "params": {"s": "q"}, "id": 7}
    try:
        app = jsonrpc.app(service, **tracing.jsonrpc_server(service))
        async with (
            running(app) as base,
            aiohttp.ClientSession() as session,
            session.post(base + "/", json=body, headers=headers) as reply,
        ):
            assert reply.status == 200
            assert (await reply.json())["result"] == "Q"
    finally:
        tracing.close()
    (span,) = exporter.get_finished_spans()
    assert span.parent is None and span.context.is_valid
