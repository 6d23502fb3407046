"""One trace across three transports: an HTTP edge calls a gRPC middle through discovery
(two instances, one dead), which calls a JSON-RPC leaf; every hop its own real server and
its own Tracing. The spans form one tree: each server span the remote child of the
attempt that reached it, and the attempt to the dead instance a failed sibling of the
retried one."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("kit_grpc")
pytest.importorskip("kit_http")
pytest.importorskip("kit_otel")

import aiohttp
from kit_grpc.testing import running as running_grpc
from kit_http import App, jsonrpc
from kit_http.testing import running as running_http
from kit_otel import Tracing
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from kitcore.lb import RoundRobin
from kitcore.testing.services import free_port


class Leaf:
    """Echoes (served over JSON-RPC)."""

    async def echo(self, s: str) -> str:
        """Echo ``s``."""
        return s


class Middle:
    """Relays to the leaf (served over gRPC)."""

    def __init__(self, leaf: Any) -> None:
        self.leaf = leaf

    async def relay(self, s: str) -> str:
        """Relay ``s`` to the leaf."""
        return str(await self.leaf.echo(s)) + "!"


class Edge:
    """Relays to the middle (served over HTTP)."""

    def __init__(self, middle: Any) -> None:
        self.middle = middle

    async def relay(self, s: str) -> str:
        """Relay ``s`` to the middle."""
        return str(await self.middle.relay(s))


def _tree(spans: list[ReadableSpan]) -> list[tuple[int, str, SpanKind, str]]:
    """(depth, name, kind, service) in depth-first order, children by start time."""
    by_parent: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        by_parent.setdefault(parent, []).append(span)
    out: list[tuple[int, str, SpanKind, str]] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in sorted(by_parent.get(parent, []), key=lambda s: s.start_time or 0):
            out.append((depth, span.name, span.kind, str(span.resource.attributes["service.name"])))
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return out


def _dead_before(live: str) -> str:
    """A loopback address nothing listens on that static:// sorts before ``live``."""
    while True:
        dead = f"127.0.0.1:{free_port()}"
        if dead < live:
            return dead


@contextlib.asynccontextmanager
async def _chain(edge_t: Tracing, middle_t: Tracing, leaf_t: Tracing) -> AsyncIterator[str]:
    leaf = Leaf()
    async with running_http(jsonrpc.app(leaf, path="/rpc", **leaf_t.jsonrpc_server(leaf))) as base:
        leaf_url = base.replace("http://", "jsonrpc://") + "/rpc"
        async with middle_t.connect(Leaf, leaf_url) as to_leaf:
            middle = Middle(to_leaf)
            async with running_grpc(middle, **middle_t.grpc_server(middle)) as live:
                dead = _dead_before(live)
                # RoundRobin over the sorted instances: the first attempt goes to the dead one.
                async with edge_t.connect(
                    Middle, f"static://{dead},{live}", transport="grpc", balancer=RoundRobin
                ) as to_middle:
                    edge = Edge(to_middle)
                    async with running_http(App(edge, **edge_t.http_server(edge))) as edge_url:
                        yield edge_url


async def test_one_trace_from_http_through_grpc_to_jsonrpc_with_a_retry() -> None:
    exporter = InMemorySpanExporter()
    edge_t, middle_t, leaf_t = (
        Tracing(exporter, service=name, processor="simple") for name in ("edge", "middle", "leaf")
    )
    try:
        async with (
            _chain(edge_t, middle_t, leaf_t) as edge_url,
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
        (1, "kit.Middle/Relay", internal, "edge"),
        (2, "kit.Middle/Relay", client, "edge"),  # the dead instance: nothing answered
        (2, "kit.Middle/Relay", client, "edge"),
        (3, "kit.Middle/Relay", server, "middle"),
        (4, "Leaf/echo", internal, "middle"),
        (5, "Leaf/echo", client, "middle"),
        (6, "Leaf/echo", server, "leaf"),
    ]
    by_system = {}
    for span in spans:
        by_system.setdefault((span.kind, span.attributes["rpc.system"]), []).append(span)
    assert set(by_system) == {
        (server, "kit_http"),
        (internal, "grpc"),
        (client, "grpc"),
        (server, "grpc"),
        (internal, "jsonrpc"),
        (client, "jsonrpc"),
        (server, "jsonrpc"),
    }
    for span in spans:
        if span.kind is server and span.name != "Edge/relay":
            assert span.parent is not None and span.parent.is_remote  # came over the wire
    first, second = sorted(by_system[client, "grpc"], key=lambda s: s.start_time or 0)
    assert first.attributes["kit.attempt"] == 1
    assert first.attributes["kit.attempt.failure"] == "unavailable"
    assert first.attributes["error.type"] == "unavailable"
    assert first.status.status_code is StatusCode.ERROR
    assert second.attributes["kit.attempt"] == 2
    assert second.attributes["http.request.resend_count"] == 1
    assert "kit.attempt.failure" not in second.attributes
    assert first.attributes["server.port"] != second.attributes["server.port"]
    (middle_server,) = by_system[server, "grpc"]
    assert middle_server.attributes["rpc.grpc.status_code"] == 0
    assert middle_server.attributes["rpc.method"] == "Relay"
    (call,) = by_system[internal, "grpc"]
    assert call.status.status_code is StatusCode.UNSET  # the call succeeded on its retry
