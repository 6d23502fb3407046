"""kitcore.testing.check_tracer passes a transparent tracer and catches ones that are not."""

from __future__ import annotations

from typing import Any

import pytest

from kitcore.endpoint import Endpoint, Middleware
from kitcore.testing import check_tracer


class Transparent:
    """Wraps each endpoint without changing anything."""

    def middleware(self, name: str) -> Middleware:
        def wrap(next_: Endpoint) -> Endpoint:
            async def endpoint(request: Any) -> Any:
                return await next_(request)

            return endpoint

        return wrap


class Swallowing:
    """Turns every error into a None answer: what a tracer must never do."""

    def middleware(self, name: str) -> Middleware:
        def wrap(next_: Endpoint) -> Endpoint:
            async def endpoint(request: Any) -> Any:
                try:
                    return await next_(request)
                except Exception:
                    return None

            return endpoint

        return wrap


class Rewrapping:
    """Raises a new exception of the same type instead of the endpoint's own."""

    def middleware(self, name: str) -> Middleware:
        def wrap(next_: Endpoint) -> Endpoint:
            async def endpoint(request: Any) -> Any:
                try:
                    return await next_(request)
                except Exception as exc:
                    raise type(exc)(*exc.args) from exc

            return endpoint

        return wrap


async def test_a_transparent_tracer_passes() -> None:
    await check_tracer(Transparent)


@pytest.mark.parametrize(
    ("tracer", "complaint"),
    [(Swallowing, "swallowed"), (Rewrapping, "a copy of the endpoint's error")],
)
async def test_a_tracer_that_changes_errors_fails(tracer: Any, complaint: str) -> None:
    with pytest.raises(AssertionError, match=complaint):
        await check_tracer(tracer)
