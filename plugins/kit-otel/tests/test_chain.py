"""A chain of kit-http services on loopback (edge -> middle -> leaf), each its own server
and tracer, yields one trace whose tree shows every call, attempt and server span,
including the retried attempt to the leaf."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from kit_http import App
from kit_http.testing import running
from kit_otel import Tracing
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from kitcore import Unavailable


class Leaf:
    """Fails its first call (the server's fault), then echoes."""

    def __init__(self) -> None:
        self.calls = 0

    async def echo(self, s: str) -> str:
        """Echo ``s``, except the first time."""
        self.calls += 1
        if self.calls == 1:
            raise Unavailable("warming up")
        return s


class Middle:
    """Calls the leaf."""

    def __init__(self, leaf: Any) -> None:
        self.leaf = leaf

    async def relay(self, s: str) -> str:
        """Relay ``s`` to the leaf."""
        return str(await self.leaf.echo(s)) + "!"


class Edge:
    """Calls the middle."""

    def __init__(self, middle: Any) -> None:
        self.middle = middle

    async def relay(self, s: str) -> str:
        """Relay ``s`` to the middle."""
        return str(await self.middle.relay(s))


@contextlib.asynccontextmanager
async def _serve(tracing: Tracing, service: object) -> AsyncIterator[str]:
    async with running(App(service, **tracing.http_server(service))) as base:
        yield base


def _tree(spans: list[ReadableSpan]) -> list[tuple[int, str, SpanKind, str]]:
    """(depth, name, kind, service) in depth-first order, children by start time."""
    by_parent: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        by_parent.setdefault(parent, []).append(span)
    out: list[tuple[int, str, SpanKind, str]] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in sorted(by_parent.get(parent, []), key=lambda s: s.start_time or 0):
            service = str(span.resource.attributes["service.name"])
            out.append((depth, span.name, span.kind, service))
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return out


async def test_one_trace_across_three_services_with_a_retry() -> None:
    exporter = InMemorySpanExporter()
    edge_t, middle_t, leaf_t = (
        Tracing(exporter, service=name, processor="simple") for name in ("edge", "middle", "leaf")
    )
    leaf = Leaf()
    try:
        async with (
            _serve(leaf_t, leaf) as leaf_url,
            middle_t.connect(Leaf, leaf_url, max_attempts=3) as to_leaf,
            _serve(middle_t, Middle(to_leaf)) as middle_url,
            edge_t.connect(Middle, middle_url) as to_middle,
            _serve(edge_t, Edge(to_middle)) as edge_url,
            aiohttp.ClientSession() as session,
            session.post(edge_url + "/relay", json={"s": "hi"}) as reply,
        ):
            assert reply.status == 200
            assert await reply.json() == "hi!"
    finally:
        for t in (edge_t, middle_t, leaf_t):
            t.close()
    spans = list(exporter.get_finished_spans())
    assert len({s.context.trace_id for s in spans}) == 1
    server, client, internal = SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL
    assert _tree(spans) == [
        (0, "Edge/relay", server, "edge"),
        (1, "Middle/relay", internal, "edge"),
        (2, "Middle/relay", client, "edge"),
        (3, "Middle/relay", server, "middle"),
        (4, "Leaf/echo", internal, "middle"),
        (5, "Leaf/echo", client, "middle"),
        (6, "Leaf/echo", server, "leaf"),
        (5, "Leaf/echo", client, "middle"),
        (6, "Leaf/echo", server, "leaf"),
    ]
    # Each server span's parent came over the wire, not through this process's context.
    for span in spans:
        if span.kind is SpanKind.SERVER and span.name != "Edge/relay":
            assert span.parent is not None and span.parent.is_remote
    first, second = sorted(
        (s for s in spans if s.kind is client and s.name == "Leaf/echo"),
        key=lambda s: s.start_time or 0,
    )
    assert first.attributes["kit.attempt"] == 1
    assert first.attributes["kit.attempt.failure"] == "unavailable"
    assert first.attributes["http.response.status_code"] == 503
    assert first.status.status_code is StatusCode.ERROR
    assert second.attributes["kit.attempt"] == 2
    assert second.attributes["http.request.resend_count"] == 1
    assert "kit.attempt.failure" not in second.attributes
    assert second.attributes["server.address"] == "127.0.0.1"
    failed_leaf = next(s for s in spans if s.kind is server and s.name == "Leaf/echo")
    assert failed_leaf.status.status_code is StatusCode.ERROR
    call = next(s for s in spans if s.kind is internal and s.name == "Leaf/echo")
    assert call.status.status_code is StatusCode.UNSET  # the call succeeded on its retry
