"""Shared fixtures: a Tracing exporting to the SDK's in-memory exporter, and a test service."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from kit_otel import Tracing
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kitcore import InvalidArgument, Unavailable, method


class StringService:
    """The tutorial's string service, with a method that fails on the server's side."""

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s``; an empty one is the caller's mistake."""
        if not s:
            raise InvalidArgument("Empty string")
        return s.upper()

    async def broken(self, s: str) -> str:
        """Always fail: the server's fault."""
        raise Unavailable("backend down")

    @method(http="GET /items/{id}")
    async def item(self, id: int) -> int:
        """Echo a path parameter."""
        return id


@pytest.fixture
def memory() -> Iterator[SimpleNamespace]:
    """A Tracing sampling everything into an in-memory exporter, exported as spans end."""
    exporter = InMemorySpanExporter()
    tracing = Tracing(exporter, service="test", processor="simple", sample=1.0)
    yield SimpleNamespace(tracing=tracing, exporter=exporter, spans=exporter.get_finished_spans)
    tracing.close()


@pytest.fixture
def svc() -> SimpleNamespace:
    """The test service classes."""
    return SimpleNamespace(StringService=StringService)
