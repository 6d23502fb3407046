"""Server spans on kit-http: names, semantic-convention attributes, status, propagation."""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp
from kit_http import App
from kit_http.testing import running
from opentelemetry.trace import SpanKind, StatusCode

TRACE = "80f198ee56343ba864fe8b2a57d3eff7"
PARENT = "e457b5a2e4d86bd1"


async def _post(base: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            base + path, data=body, headers={"content-type": "application/json", **(headers or {})}
        ) as reply,
    ):
        await reply.read()
        return reply.status


def _app(memory: SimpleNamespace, svc: SimpleNamespace) -> App:
    service = svc.StringService()
    return App(service, **memory.tracing.http_server(service))


async def test_one_server_span_per_request_with_conventions(memory, svc) -> None:
    async with running(_app(memory, svc)) as base:
        assert await _post(base, "/uppercase", b'{"s": "abc"}') == 200
    (span,) = memory.spans()
    assert span.name == "StringService/uppercase"
    assert span.kind is SpanKind.SERVER
    attrs = dict(span.attributes)
    assert attrs["rpc.system"] == "kit_http"
    assert attrs["rpc.service"] == "StringService"
    assert attrs["rpc.method"] == "uppercase"
    assert attrs["http.request.method"] == "POST"
    assert attrs["http.route"] == "/uppercase"
    assert attrs["http.response.status_code"] == 200
    assert attrs["server.address"] == "127.0.0.1"
    assert "error.type" not in attrs
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None
    assert span.resource.attributes["service.name"] == "test"


async def test_rest_route_is_the_template(memory, svc) -> None:
    async with (
        running(_app(memory, svc)) as base,
        aiohttp.ClientSession() as session,
        session.get(base + "/items/42") as reply,
    ):
        assert reply.status == 200
    (span,) = memory.spans()
    assert span.attributes["http.route"] == "/items/{id}"
    assert span.attributes["url.path"] == "/items/42"


async def test_caller_fault_is_not_a_server_error(memory, svc) -> None:
    async with running(_app(memory, svc)) as base:
        assert await _post(base, "/uppercase", b'{"s": ""}') == 400
        assert await _post(base, "/uppercase", b"{not json") == 400
    endpoint_error, decode_error = memory.spans()
    for span in (endpoint_error, decode_error):
        assert span.attributes["http.response.status_code"] == 400
        assert span.status.status_code is StatusCode.UNSET
    assert endpoint_error.attributes["error.type"] == "invalid_argument"


async def test_server_fault_is_an_error(memory, svc) -> None:
    async with running(_app(memory, svc)) as base:
        assert await _post(base, "/broken", b'{"s": "x"}') == 503
    (span,) = memory.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "unavailable"
    assert span.attributes["http.response.status_code"] == 503
    assert [e.name for e in span.events] == ["exception"]


async def test_w3c_parent_is_continued(memory, svc) -> None:
    headers = {"traceparent": f"00-{TRACE}-{PARENT}-01", "baggage": "tenant=acme"}
    async with running(_app(memory, svc)) as base:
        assert await _post(base, "/uppercase", b'{"s": "a"}', headers) == 200
    (span,) = memory.spans()
    assert format(span.context.trace_id, "032x") == TRACE
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT
    assert span.parent.is_remote


async def test_b3_single_and_multi_parents_are_continued(svc) -> None:
    from kit_otel import Tracing
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracing = Tracing(exporter, processor="simple", propagators="tracecontext,b3,b3multi")
    memory = SimpleNamespace(tracing=tracing)
    single = {"b3": f"{TRACE}-{PARENT}-1"}
    multi = {"X-B3-TraceId": TRACE, "X-B3-SpanId": PARENT, "X-B3-Sampled": "1"}
    async with running(_app(memory, svc)) as base:
        for headers in (single, multi):
            assert await _post(base, "/uppercase", b'{"s": "a"}', headers) == 200
    tracing.close()
    for span in exporter.get_finished_spans():
        assert format(span.context.trace_id, "032x") == TRACE
        assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT


async def test_malformed_trace_headers_start_a_new_trace(memory, svc) -> None:
    bad = [
        {"traceparent": "garbage"},
        {"traceparent": f"00-{'0' * 32}-{PARENT}-01"},  # the all-zero trace id is invalid
        {"traceparent": f"ff-{TRACE}-{PARENT}-01"},  # version ff is forbidden
        {"traceparent": "00-" + "z" * 32 + f"-{PARENT}-01", "tracestate": "=,=,="},
        {"b3": "not-a-b3-header"},
        {"X-B3-TraceId": "nothex", "X-B3-SpanId": "1"},
        {"traceparent": "00-" + "a" * 5000},
    ]
    async with running(_app(memory, svc)) as base:
        for headers in bad:
            assert await _post(base, "/uppercase", b'{"s": "a"}', headers) == 200
    spans = memory.spans()
    assert len(spans) == len(bad)
    for span in spans:
        assert span.parent is None
        assert span.context.trace_id != int(TRACE, 16)
    assert len({s.context.trace_id for s in spans}) == len(bad)


async def test_unrouted_request_gets_no_span_and_no_leak(memory, svc) -> None:
    async with running(_app(memory, svc)) as base:
        assert await _post(base, "/nowhere", b"{}") == 404
        assert await _post(base, "/uppercase", b'{"s": "a"}') == 200
    (span,) = memory.spans()
    assert span.parent is None  # the 404 left no context behind for the next request


async def test_endpoint_sees_its_span_as_current(memory) -> None:
    from opentelemetry import trace

    seen: list[int] = []

    class Probe:
        async def where(self) -> str:
            seen.append(trace.get_current_span().get_span_context().span_id)
            return "here"

    service = Probe()
    app = App(service, **memory.tracing.http_server(service))
    async with running(app) as base:
        assert await _post(base, "/where", b"{}") == 200
    (span,) = memory.spans()
    assert seen == [span.context.span_id]
