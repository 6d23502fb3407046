"""Client spans through kitcore.connect: why each attempt failed, and the explicit client."""

from __future__ import annotations

import asyncio

import pytest
from kit_http import App
from kit_http.client import ClientEndpoint
from kit_http.testing import running
from opentelemetry.trace import SpanKind

from kitcore import DeadlineExceeded, ResourceExhausted, Unavailable
from kitcore.circuitbreaker import ConsecutiveBreaker, circuit_breaker
from kitcore.ratelimit import TokenBucket, erroring_limiter
from kitcore.testing.services import free_port


class Slow:
    """Sleeps as long as asked."""

    async def nap(self, seconds: float) -> float:
        """Sleep ``seconds``."""
        await asyncio.sleep(seconds)
        return seconds


def _attempts(memory) -> list[dict]:
    return [dict(s.attributes) for s in memory.spans() if s.kind is SpanKind.CLIENT]


async def test_breaker_open_and_refused_connection(memory, svc) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    breaker = circuit_breaker(ConsecutiveBreaker(fail_max=1, reset_timeout=60))
    client = memory.tracing.connect(svc.StringService, down, middleware=breaker, max_attempts=2)
    async with client:
        with pytest.raises(Unavailable):
            await client.uppercase("a")
    first, second = _attempts(memory)
    assert first["kit.attempt.failure"] == "unavailable"  # connection refused
    assert first["server.address"] == "127.0.0.1"
    assert second["kit.attempt.failure"] == "breaker_open"
    assert "server.address" not in second  # nothing was sent
    (call,) = [s for s in memory.spans() if s.kind is SpanKind.INTERNAL]
    assert call.attributes["error.type"] == "unavailable"


async def test_rate_limited_attempt(memory, svc) -> None:
    service = svc.StringService()
    limiter = erroring_limiter(TokenBucket(rate=0.001, burst=1))
    async with running(App(service, **memory.tracing.http_server(service))) as base:
        client = memory.tracing.connect(svc.StringService, base, middleware=limiter, max_attempts=1)
        async with client:
            assert await client.uppercase("a") == "A"
            with pytest.raises(ResourceExhausted):
                await client.uppercase("b")
    reasons = [a.get("kit.attempt.failure") for a in _attempts(memory)]
    assert reasons == [None, "rate_limited"]


async def test_deadline_attempt(memory) -> None:
    service = Slow()
    app = App(service, **memory.tracing.http_server(service))
    async with (
        running(app) as base,
        memory.tracing.connect(Slow, base, timeout=0.2, max_attempts=1) as client,
    ):
        with pytest.raises(DeadlineExceeded):
            await client.nap(5.0)
    (attempt,) = _attempts(memory)
    assert attempt["kit.attempt.failure"] == "deadline"


async def test_caller_fault_on_the_client_is_still_an_error_there(memory, svc) -> None:
    from kitcore import InvalidArgument

    service = svc.StringService()
    app = App(service, **memory.tracing.http_server(service))
    async with running(app) as base, memory.tracing.connect(svc.StringService, base) as client:
        with pytest.raises(InvalidArgument):
            await client.uppercase("")
    kinds = {s.kind: s for s in memory.spans()}
    assert kinds[SpanKind.CLIENT].attributes["kit.attempt.failure"] == "invalid_argument"
    assert kinds[SpanKind.CLIENT].status.is_ok is False
    assert kinds[SpanKind.SERVER].status.is_unset


async def test_explicit_client_endpoint_injects_context(memory, svc) -> None:
    service = svc.StringService()
    async with running(App(service, **memory.tracing.http_server(service))) as base:
        endpoint = ClientEndpoint(
            "POST", base + "/uppercase", before=memory.tracing.http_client_before()
        )
        traced = memory.tracing.client_middleware("uppercase", system="kit_http")(endpoint)
        try:
            assert await traced({"s": "a"}) == "A"
        finally:
            await endpoint.close()
    server = next(s for s in memory.spans() if s.kind is SpanKind.SERVER)
    client = next(s for s in memory.spans() if s.kind is SpanKind.CLIENT)
    assert server.parent is not None and server.parent.span_id == client.context.span_id
    assert server.parent.is_remote
