"""The proxying middleware: uppercase on remote instances, count locally."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from kit_http.client import ClientEndpoint, Reply
from kit_otel import Tracing
from kit_pybreaker import PyBreaker
from kit_ratelimit import PyrateLimiter

from examples.apigateway.display import public_url
from examples.stringsvc1.transport import Service, UppercaseRequest, UppercaseResponse
from kitcore import sd
from kitcore.circuitbreaker import circuit_breaker
from kitcore.endpoint import Endpoint
from kitcore.errors import InvalidArgument
from kitcore.lb import AttemptTimeout, Retry, RoundRobin
from kitcore.log import Logger
from kitcore.metrics import DiscardProvider, Provider
from kitcore.ratelimit import erroring_limiter
from kitcore.sd import Endpointer, Factory, FixedInstancer, Instancer

QPS = 100
"""Largest rate of calls sent to one instance (and the burst it may take at once)."""
MAX_ATTEMPTS = 3
"""Instances tried per call, at most."""
MAX_TIME = 0.250
"""Seconds all attempts of one call may take together."""
SERVICE = "StringService"
"""The service the proxied calls go to, as traces name it."""


@dataclass(frozen=True)
class BreakerSettings:
    """When an instance's circuit opens (``fail_max`` failures in a row) and for how long."""

    fail_max: int = 3
    """Consecutive failed calls to one instance that open its circuit."""
    reset_timeout: float = 5.0
    """Seconds an open circuit refuses calls before letting one trial call through."""


class ProxyingMiddleware:
    """A StringService whose uppercase is answered by the proxied instances."""

    def __init__(self, uppercase: Endpoint, next_: Service) -> None:
        self._uppercase = uppercase
        self.next = next_

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s`` on one of the instances."""
        response: UppercaseResponse = await self._uppercase(UppercaseRequest(s))
        if response.err:
            raise InvalidArgument(response.err)
        return response.v

    async def count(self, s: str) -> int:
        """Count locally."""
        return await self.next.count(s)


def encode_request(request: Any) -> bytes:
    """Encode a request as JSON."""
    return msgspec.json.encode(request)


def decode_uppercase_response(reply: Reply) -> UppercaseResponse:
    """Decode the remote instance's response."""
    return msgspec.json.decode(reply.body, type=UppercaseResponse)


def uppercase_proxy_factory(
    logger: Logger,
    metrics: Provider,
    breaker: BreakerSettings = BreakerSettings(),
    tracing: Tracing | None = None,
) -> Factory:
    """The Endpointer's factory: one instance's client endpoint, behind its own breaker and
    limiter (as the tutorial's ``Gobreaker`` and ``NewErroringLimiter``), and its closer.

    Each breaker is named after its instance; it logs its state changes to ``logger``
    and counts them in ``metrics`` (``kit_circuit_breaker_state{breaker="host:port"}``).
    With ``tracing``, each attempt is a span (outermost, so it sees the breaker's and
    the limiter's refusals) whose context the request carries.

    Beyond the tutorial: when every instance's circuit is open at once (a stall of this
    process timed out every instance together), calls go through anyway: trying beats
    refusing every call until the first reset timeout.
    """
    breakers: dict[str, PyBreaker] = {}

    def make_uppercase_proxy(instance: str) -> tuple[Endpoint, Callable[[], Awaitable[None]]]:
        client = ClientEndpoint(
            "POST",
            f"http://{instance}/uppercase",
            encode_request,
            decode_uppercase_response,
            before=tracing.http_client_before() if tracing else None,
        )
        limiter = PyrateLimiter(QPS, burst=QPS, name=instance)
        circuit = PyBreaker(
            instance,
            fail_max=breaker.fail_max,
            reset_timeout=breaker.reset_timeout,
            logger=logger,
            metrics=metrics,
        )
        breakers[instance] = circuit
        guarded = circuit_breaker(circuit)(client)

        async def guarded_unless_all_open(request: Any) -> Any:
            if circuit.state == "open" and all(b.state == "open" for b in breakers.values()):
                return await client(request)
            return await guarded(request)

        endpoint: Endpoint = erroring_limiter(limiter)(guarded_unless_all_open)
        if tracing is not None:
            endpoint = tracing.attempt_middleware(service=SERVICE, method="uppercase")(endpoint)

        async def close() -> None:
            breakers.pop(instance, None)
            await client.close()
            await limiter.aclose()

        return endpoint, close

    return make_uppercase_proxy


def proxying_middleware(
    instances: str,
    logger: Logger,
    metrics: Provider | None = None,
    breaker: BreakerSettings = BreakerSettings(),
    tracing: Tracing | None = None,
) -> tuple[Callable[[Service], Service], Callable[[], Awaitable[None]] | None]:
    """The middleware proxying to ``instances`` and what closes it.

    ``instances`` is a list (``"h1:p1,h2:p2"``, as the tutorial's ``-proxy``) or a
    discovery URL (``etcd://127.0.0.1:2379/services/stringsvc``) whose Instancer
    follows the instances as they register, die and come back.

    ``metrics`` receives the breakers' state metrics (discarded when None); with
    ``tracing`` each proxied call is a span, with a child span per attempt.
    """
    if not instances:
        logger.log(proxy_to="none")
        return (lambda next_: next_), None
    instancer: Instancer
    if "://" in instances:
        logger.log(proxy_to=public_url(instances))
        instancer = sd.instancer(instances)
    else:
        found = [i.strip() for i in instances.split(",") if i.strip()]
        logger.log(proxy_to=f"[{' '.join(found)}]")
        instancer = FixedInstancer(found)
    factory = uppercase_proxy_factory(logger, metrics or DiscardProvider(), breaker, tracing)
    endpointer = Endpointer(instancer, factory, logger=logger)
    # Beyond the tutorial: each attempt gets its share of the time left, so an instance
    # that hangs (stopped, not dead) costs one share of the 250 ms and a retry still
    # reaches another instance in time. No shorter bound learnt from latencies: on a
    # loaded machine the loop's own lag exceeds it, and attempts cut short for that
    # would open healthy instances' breakers.
    per_attempt = AttemptTimeout(floor=MAX_TIME / MAX_ATTEMPTS)
    retry = Retry(MAX_ATTEMPTS, MAX_TIME, RoundRobin(endpointer), attempt_timeout=per_attempt)
    if tracing is not None:
        retry = tracing.call_middleware(service=SERVICE, method="uppercase")(retry)

    async def close() -> None:
        await endpointer.close()
        await instancer.close()

    return (lambda next_: ProxyingMiddleware(retry, next_)), close
