"""The hooks tracing and other cross-cutting middlewares use: ``named_middleware`` on the
server (each method's endpoint by its name) and ``before`` on the typed client (edit each
call's outgoing metadata), both through the public entry points on real servers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kit_grpc.testing import running

import kitcore
from kitcore import context
from kitcore.endpoint import Endpoint, Middleware


class Greeter:
    """Greets, and says which call id it was sent."""

    async def hello(self, name: str) -> str:
        """Greet ``name``."""
        return f"hello {name}"

    async def call_id(self) -> str:
        """The ``x-call-id`` metadata bound into the context by the server's ``before``."""
        return str(context.get("call_id"))


def _read_call_id(metadata: Any) -> Mapping[str, Any]:
    return {"call_id": dict(metadata).get("x-call-id")}


async def test_named_middleware_sees_each_method_by_name() -> None:
    seen: list[str] = []

    def named(name: str) -> Middleware:
        def middleware(next_: Endpoint) -> Endpoint:
            async def endpoint(request: Any) -> Any:
                seen.append(name)
                return await next_(request)

            return endpoint

        return middleware

    async with (
        running(Greeter(), named_middleware=named) as address,
        kitcore.connect(Greeter, f"grpc://{address}") as client,
    ):
        assert await client.hello("kit") == "hello kit"
        assert await client.call_id() == "None"
    assert seen == ["hello", "call_id"]


async def test_client_before_writes_each_calls_metadata() -> None:
    counter = iter(range(1, 100))

    def before(metadata: list[tuple[str, str | bytes]]) -> None:
        assert ("x-fixed", "1") in metadata  # the fixed metadata is there to edit
        metadata.append(("x-call-id", str(next(counter))))

    async with (
        running(Greeter(), before=_read_call_id) as address,
        kitcore.connect(
            Greeter, f"grpc://{address}", metadata=[("x-fixed", "1")], before=before
        ) as client,
    ):
        assert await client.call_id() == "1"
        assert await client.call_id() == "2"
