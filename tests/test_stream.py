"""kitcore.stream: how a method that yields becomes a streaming endpoint (no transport)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest

from kitcore import NotFound, describe, endpoints
from kitcore.stream import Stream, StreamCall


class Ticks:
    """Streams with and without annotations."""

    def __init__(self) -> None:
        self.closed = 0

    async def count(self, n: int) -> AsyncIterator[int]:
        """0 to n - 1."""
        try:
            for i in range(n):
                yield i
        finally:
            self.closed += 1

    async def bare(self):  # type: ignore[no-untyped-def]
        """Unannotated: items of any type."""
        yield "a"

    async def generator(self) -> AsyncGenerator[str, None]:
        """Annotated as a generator."""
        yield "g"

    async def returned(self) -> AsyncIterator[int]:
        """A coroutine that returns an iterator instead of yielding."""
        return self.count(2)

    async def missing(self) -> AsyncIterator[int]:
        """NotFound before any item."""
        try:
            raise NotFound("none")
            yield 0  # pragma: no cover
        finally:
            self.closed += 1


def test_methods_that_yield_are_streams_of_their_item_type() -> None:
    methods = describe(Ticks).methods
    assert methods["count"].streaming and methods["count"].response_type is int
    assert methods["bare"].streaming and methods["bare"].response_type is Any
    assert methods["generator"].streaming and methods["generator"].response_type is str
    assert methods["returned"].streaming


def test_a_method_that_yields_must_be_annotated_as_an_iterator() -> None:
    class Bad:
        async def items(self) -> int:  # type: ignore[misc]
            yield 1

    with pytest.raises(TypeError, match=r"Bad\.items yields: annotate it -> AsyncIterator"):
        describe(Bad)


async def test_the_endpoint_returns_once_the_first_item_is_ready() -> None:
    ticks = Ticks()
    eps = endpoints(ticks)
    stream = await eps["count"]({"n": 3})
    assert isinstance(stream, Stream)
    assert [i async for i in stream] == [0, 1, 2]
    assert ticks.closed == 1
    assert [i async for i in await eps["returned"]({})] == [0, 1]
    assert [i async for i in await eps["count"]({"n": 0})] == []


async def test_an_error_before_the_first_item_is_the_endpoints_error() -> None:
    ticks = Ticks()
    with pytest.raises(NotFound):
        await endpoints(ticks)["missing"]({})
    assert ticks.closed == 1


async def test_closing_a_stream_early_closes_the_generator() -> None:
    ticks = Ticks()
    stream = await endpoints(ticks)["count"]({"n": 10})
    assert await stream.__anext__() == 0
    await stream.aclose()
    assert ticks.closed == 1
    assert [i async for i in stream] == []


async def test_a_stream_call_opens_on_first_use_and_closes() -> None:
    ticks = Ticks()
    opened: list[Any] = []
    count = endpoints(ticks)["count"]

    async def endpoint(request: Any) -> Any:
        opened.append(request)
        return await count(request)

    call: StreamCall[int] = StreamCall(endpoint, {"n": 5})
    await asyncio.sleep(0)
    assert opened == []  # nothing sent before the first __anext__
    async with call as items:
        assert await items.__anext__() == 0
    assert ticks.closed == 1
    assert [i async for i in call] == []
