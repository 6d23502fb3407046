"""The endpoint layer: one Endpoint per method, shared by every transport (Go kit's addendpoint).

Business errors travel inside the response (``SumResponse.err``), as in Go kit, so they
never count against the breaker and the duration metric records them as successes.
Each endpoint is wrapped, innermost first, in an erroring limiter (Sum 1/s burst 1,
Concat 1/s burst 100), a breaker with gobreaker's defaults (open after more than 5
consecutive errors, for 60 s, then one trial call), logging (``transport_error``,
``took``) and a duration summary labelled ``method`` and ``success``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from examples.addsvc.service import Service
from kitcore.circuitbreaker import ConsecutiveBreaker, circuit_breaker
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import InvalidArgument, KitError
from kitcore.log import Logger, format_duration
from kitcore.metrics import Histogram
from kitcore.ratelimit import TokenBucket, erroring_limiter

Int = Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)]
"""Go's int on the wire: 64 bits."""

SERVICE = "addsvc"
"""The service's name in traces over HTTP and JSON-RPC (gRPC's is its own, ``pb.Add``)."""

UNLIMITED = 1 << 30
"""The burst of the anchor's ``addsvc-nolimit``: the same stack, never limiting a load test."""


class SumRequest(msgspec.Struct):
    """Sum's arguments; a missing one is 0, as Go decodes it."""

    a: Int = 0
    b: Int = 0


class ConcatRequest(msgspec.Struct):
    """Concat's arguments; a missing one is empty."""

    a: str = ""
    b: str = ""


@dataclass(frozen=True)
class SumResponse:
    """Sum's result, or the business error that replaced it."""

    v: int = 0
    err: KitError | None = None


@dataclass(frozen=True)
class ConcatResponse:
    """Concat's result, or the business error that replaced it."""

    v: str = ""
    err: KitError | None = None


def make_sum_endpoint(svc: Service) -> Endpoint:
    """Sum as an Endpoint: SumRequest -> SumResponse."""

    async def sum_endpoint(request: SumRequest) -> SumResponse:
        try:
            return SumResponse(await svc.sum(request.a, request.b))
        except InvalidArgument as exc:
            return SumResponse(0, exc)

    return sum_endpoint


def make_concat_endpoint(svc: Service) -> Endpoint:
    """Concat as an Endpoint: ConcatRequest -> ConcatResponse."""

    async def concat_endpoint(request: ConcatRequest) -> ConcatResponse:
        try:
            return ConcatResponse(await svc.concat(request.a, request.b))
        except InvalidArgument as exc:
            return ConcatResponse("", exc)

    return concat_endpoint


def logging_middleware(logger: Logger) -> Middleware:
    """Log each call's endpoint error and duration: ``transport_error=null took=82µs``."""

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            begin, err = time.perf_counter(), None
            try:
                return await next_(request)
            except Exception as exc:
                err = exc
                raise
            finally:
                took = format_duration(time.perf_counter() - begin)
                logger.log(transport_error=err, took=took)

        return endpoint

    return middleware


def instrumenting_middleware(duration: Histogram, method: str) -> Middleware:
    """Observe each call's seconds in ``duration`` by ``method`` and ``success="true"|"false"``."""
    succeeded = duration.with_labels(method=method, success="true")
    failed = duration.with_labels(method=method, success="false")

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            begin, ok = time.perf_counter(), False
            try:
                response = await next_(request)
                ok = True
                return response
            finally:
                (succeeded if ok else failed).observe(time.perf_counter() - begin)

        return endpoint

    return middleware


def gobreaker() -> ConsecutiveBreaker:
    """A breaker with gobreaker's defaults: more than 5 consecutive errors open it for 60 s."""
    return ConsecutiveBreaker(fail_max=6, reset_timeout=60.0)


class Set:
    """The endpoints of one addsvc, server side or client side; also a Service."""

    def __init__(self, sum_endpoint: Endpoint, concat_endpoint: Endpoint) -> None:
        self.sum_endpoint = sum_endpoint
        self.concat_endpoint = concat_endpoint

    async def sum(self, a: int, b: int) -> int:
        """Call the Sum endpoint; its business error is raised."""
        response: SumResponse = await self.sum_endpoint(SumRequest(a, b))
        if response.err is not None:
            raise response.err
        return response.v

    async def concat(self, a: str, b: str) -> str:
        """Call the Concat endpoint; its business error is raised."""
        response: ConcatResponse = await self.concat_endpoint(ConcatRequest(a, b))
        if response.err is not None:
            raise response.err
        return response.v


def new_set(svc: Service, logger: Logger, duration: Histogram, *, unlimited: bool = False) -> Set:
    """The server's endpoints, as Go kit's ``addendpoint.New`` (``unlimited``: bursts of 2^30)."""
    sum_burst, concat_burst = (UNLIMITED, UNLIMITED) if unlimited else (1, 100)

    def stack(ep: Endpoint, name: str, burst: int) -> Endpoint:
        ep = erroring_limiter(TokenBucket(1.0, burst))(ep)
        ep = circuit_breaker(gobreaker())(ep)
        ep = logging_middleware(logger.with_(method=name))(ep)
        return instrumenting_middleware(duration, name)(ep)

    return Set(
        stack(make_sum_endpoint(svc), "Sum", sum_burst),
        stack(make_concat_endpoint(svc), "Concat", concat_burst),
    )


def client_set(sum_endpoint: Endpoint, concat_endpoint: Endpoint) -> Set:
    """A client's endpoints behind addcli's limiter (1/s, burst 100, shared) and breakers."""
    limiter = erroring_limiter(TokenBucket(1.0, 100))
    return Set(
        circuit_breaker(gobreaker())(limiter(sum_endpoint)),
        circuit_breaker(gobreaker())(limiter(concat_endpoint)),
    )
