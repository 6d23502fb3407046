"""The proxying middleware: uppercase on remote instances, count locally."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from kit_http.client import ClientEndpoint, Reply

from examples.stringsvc1.transport import Service, UppercaseRequest, UppercaseResponse
from kitcore.circuitbreaker import ConsecutiveBreaker, circuit_breaker
from kitcore.endpoint import Endpoint
from kitcore.errors import InvalidArgument
from kitcore.lb import Retry, RoundRobin
from kitcore.log import Logger
from kitcore.ratelimit import TokenBucket, erroring_limiter
from kitcore.sd import Endpointer, FixedInstancer

QPS = 100
"""Largest rate of calls sent to one instance."""
MAX_ATTEMPTS = 3
"""Instances tried per call, at most."""
MAX_TIME = 0.250
"""Seconds all attempts of one call may take together."""


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


def make_uppercase_proxy(instance: str) -> tuple[Endpoint, Callable[[], Awaitable[None]]]:
    """The client endpoint for one instance, behind a breaker and a limiter, and its closer."""
    client = ClientEndpoint(
        "POST", f"http://{instance}/uppercase", encode_request, decode_uppercase_response
    )
    endpoint: Endpoint = client
    endpoint = circuit_breaker(ConsecutiveBreaker())(endpoint)
    endpoint = erroring_limiter(TokenBucket(QPS, QPS))(endpoint)
    return endpoint, client.close


def proxying_middleware(
    instances: str, logger: Logger
) -> tuple[Callable[[Service], Service], Callable[[], Awaitable[None]] | None]:
    """The middleware proxying to ``instances`` (``"h1:p1,h2:p2"``) and what closes it."""
    if not instances:
        logger.log(proxy_to="none")
        return (lambda next_: next_), None
    found = [i.strip() for i in instances.split(",") if i.strip()]
    logger.log(proxy_to=f"[{' '.join(found)}]")
    instancer = FixedInstancer(found)
    endpointer = Endpointer(instancer, make_uppercase_proxy, logger=logger)
    retry = Retry(MAX_ATTEMPTS, MAX_TIME, RoundRobin(endpointer))

    async def close() -> None:
        await endpointer.close()
        await instancer.close()

    return (lambda next_: ProxyingMiddleware(retry, next_)), close
