from __future__ import annotations

import threading
from typing import Any

from kitcore import Endpoint, Middleware, chain, context, from_sync, nop


def tag(name: str, trail: list[str]) -> Middleware:
    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            trail.append(f"{name}>")
            response = await next_(request)
            trail.append(f"<{name}")
            return response

        return endpoint

    return middleware


async def test_chain_first_is_outermost() -> None:
    trail: list[str] = []

    async def inner(request: Any) -> Any:
        trail.append("endpoint")
        return request * 2

    endpoint = chain(tag("a", trail), tag("b", trail), tag("c", trail))(inner)
    assert await endpoint(21) == 42
    assert trail == ["a>", "b>", "c>", "endpoint", "<c", "<b", "<a"]


async def test_chain_of_one_wraps_once() -> None:
    trail: list[str] = []
    assert await chain(tag("only", trail))(nop)("x") is None
    assert trail == ["only>", "<only"]


async def test_from_sync_runs_in_a_thread_with_the_callers_context() -> None:
    seen: dict[str, Any] = {}

    def blocking(request: int) -> int:
        seen["thread"] = threading.get_ident()
        seen["value"] = context.get("user")
        return request + 1

    with context.bind(user="ana"):
        assert await from_sync(blocking)(1) == 2
    assert seen["thread"] != threading.get_ident()
    assert seen["value"] == "ana"
    assert from_sync(blocking).__name__ == "blocking"
