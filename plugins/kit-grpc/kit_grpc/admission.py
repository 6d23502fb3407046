"""Admission: a grpc.aio server interceptor that sheds load before any request is decoded.

kit-http's ``kit_http.admission`` for gRPC. Shedding is worth most when it costs least:
kit's handlers take the request as bytes and decode it themselves, so this layer runs
between grpc receiving the message and kit decoding it, and answers at once:

- over the concurrency limit (a :class:`kitcore.concurrency.Limiter`, fixed or
  adaptive): ``RESOURCE_EXHAUSTED`` with kit's error details (``retry_after``, the limit)
  in ``grpc-status-details-bin``, which a kit client raises as ResourceExhausted and
  retries on another instance within its retry budget; the trailing metadata also
  carries ``retry-after`` (seconds, as HTTP's header) and gRPC's own
  ``grpc-retry-pushback-ms``, which grpc's retry policy honours;
- with a gRPC deadline below the method's observed minimum latency
  (:class:`kitcore.concurrency.MinLatency`): ``DEADLINE_EXCEEDED``, unrun.

Each admitted call's outcome feeds the limit as kit-http's does: an answer whose code
is the caller's doing or OK is a latency sample (an OK one also feeds the method's
minimum latency), DEADLINE_EXCEEDED or a cancellation once the deadline passed is a
drop, anything else is ignored. Health checks and reflection are never shed (a load
balancer must still see the instance): ``exempt`` lists the service prefixes let
through. Pass it as ``interceptors=[Admission(...)]`` to ``kit_grpc.serve.start`` /
``serve``, or to ``grpc.aio.server`` yourself.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc  # type: ignore[import-untyped]

from kit_grpc.errors import status_code, trailer
from kitcore.concurrency import Limiter, MinLatency, Permit, too_late
from kitcore.concurrency.middleware import end_cancelled
from kitcore.errors import KitError

EXEMPT = ("/grpc.health.v1.Health/", "/grpc.reflection.")
"""Method prefixes never shed nor refused: health checks and server reflection."""

_SAMPLE = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,  # a rate limit's answer: served, and fast
    }
)
"""Codes that end a call normally (kit-http's "below 500"): their latency is a sample."""

Behaviour = Callable[[Any, Any], Awaitable[Any]]


class Admission(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Sheds unary calls over ``limiter``'s limit and refuses doomed deadlines."""

    def __init__(
        self,
        limiter: Limiter | None = None,
        *,
        min_latency: MinLatency | None = None,
        exempt: Sequence[str] = EXEMPT,
    ) -> None:
        if limiter is None and min_latency is None:
            raise ValueError("Admission needs a limiter, a min_latency, or both")
        self.limiter = limiter
        self.min_latency = min_latency
        self.exempt = tuple(exempt)
        self.shed = 0
        """Calls refused over the limit so far."""
        self.refused = 0
        """Calls refused for a deadline below the method's minimum latency so far."""
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """The method's handler, wrapped to be admitted first (unary-unary methods only)."""
        method: str = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if (
            handler is None
            or handler.unary_unary is None
            or handler.request_streaming
            or handler.response_streaming
            or method.startswith(self.exempt)
        ):
            return handler
        wrapped = grpc.unary_unary_rpc_method_handler(
            self._admit(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        # Only methods the server has are cached: an unknown name gets None above.
        self._wrapped[method] = wrapped
        return wrapped

    def _admit(self, method: str, behaviour: Behaviour) -> Behaviour:
        async def admitted(request: Any, ctx: grpc.aio.ServicerContext[Any, Any]) -> Any:
            if self.min_latency is not None:
                refused = too_late(self.min_latency.get(method), ctx.time_remaining())
                if refused is not None:
                    self.refused += 1
                    await _abort(ctx, refused)
            permit: Permit | None = None
            if self.limiter is not None:
                permit = self.limiter.acquire()
                if permit is None:
                    self.shed += 1
                    await _shed(ctx, self.limiter)
            return await self._serve(method, behaviour, request, ctx, permit)

        return admitted

    async def _serve(
        self,
        method: str,
        behaviour: Behaviour,
        request: Any,
        ctx: grpc.aio.ServicerContext[Any, Any],
        permit: Permit | None,
    ) -> Any:
        clock = self.min_latency.clock if self.min_latency is not None else None
        start = clock() if clock is not None else 0.0
        try:
            reply = await behaviour(request, ctx)
        except asyncio.CancelledError:
            if permit is not None:
                end_cancelled(permit, ctx.time_remaining)
            raise
        except BaseException:
            if permit is not None:
                _end(permit, ctx.code())
            raise
        code = ctx.code()
        if (code is None or code is grpc.StatusCode.OK) and clock is not None:
            assert self.min_latency is not None
            self.min_latency.observe(method, clock() - start)
        if permit is not None:
            _end(permit, code)
        return reply


def _end(permit: Permit, code: grpc.StatusCode | None) -> None:
    if code is None or code in _SAMPLE:
        permit.success()
    elif code is grpc.StatusCode.DEADLINE_EXCEEDED:
        permit.dropped()
    else:
        permit.ignore()


async def _abort(
    ctx: grpc.aio.ServicerContext[Any, Any],
    error: KitError,
    extra: tuple[tuple[str, str], ...] = (),
) -> None:
    await ctx.abort(status_code(error), error.message, (*trailer(error), *extra))


async def _shed(ctx: grpc.aio.ServicerContext[Any, Any], limiter: Limiter) -> None:
    error = limiter.overloaded()
    seconds = error.retry_after or 0.0
    hints = (
        ("retry-after", str(max(0, math.ceil(seconds)))),
        ("grpc-retry-pushback-ms", str(max(0, round(seconds * 1000)))),
    )
    await _abort(ctx, error, hints)
