"""Server streaming: a service method that yields is a stream of items, opened like a call.

A method ``async def watch(self, ...) -> AsyncIterator[T]`` that yields is a
server-streaming method (``Method.streaming``): one request, then any number of items
of type T. Go kit has no such thing. Here a stream goes through the same endpoints,
middleware and client chain as a call, by one rule:

    a streaming endpoint returns once the stream's first item is in hand
    (or the stream ended, or failed), as a ``Stream`` holding that item.

So what happens up to the first item is the call, for everything that wraps an
endpoint: an error raised before it is the call's error (an HTTP status or a gRPC
status; middleware logs it, breakers count it, the client retries it, since no item
was lost). After the first item the items flow with nothing in their way: an error
raised then reaches the client after the items already sent, as the same class, and
is never retried (the items would come twice).

A ``Stream`` must be run to its end or closed (``aclose()``): closing it closes the
generator on a server (its ``finally`` runs) and the call on a client. The deadline
covers the whole stream, not only its opening.
"""

from __future__ import annotations

import collections.abc
import inspect
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from kitcore.endpoint import Endpoint

T = TypeVar("T")

_STREAM_TYPES = (
    collections.abc.AsyncIterator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncGenerator,
)
_NO_ITEM: Any = object()


def item_type(annotation: Any) -> tuple[bool, Any]:
    """``(True, T)`` for ``AsyncIterator[T]`` (or AsyncIterable, AsyncGenerator), else False."""
    origin = typing.get_origin(annotation) or annotation
    if origin in _STREAM_TYPES:
        args = typing.get_args(annotation)
        return True, args[0] if args else Any
    return False, annotation


class Stream(Generic[T]):
    """An open stream: its first item already received, an async iterator over all items.

    ``read()`` returns the next item after the first, raising StopAsyncIteration at the
    end; ``close`` (async) and ``cancel`` (sync) release what the stream holds.
    """

    __slots__ = ("_cancel", "_close", "_done", "_first", "_read")

    def __init__(
        self,
        read: Callable[[], Awaitable[T]] | None,
        first: Any = _NO_ITEM,
        *,
        close: Callable[[], Awaitable[Any]] | None = None,
        cancel: Callable[[], Any] | None = None,
    ) -> None:
        self._read = read
        self._first = first
        self._close = close
        self._cancel = cancel
        self._done = read is None and first is _NO_ITEM

    @classmethod
    def empty(cls) -> Stream[Any]:
        """A stream that ended before its first item."""
        return cls(None)

    def __aiter__(self) -> Stream[T]:
        return self

    async def __anext__(self) -> T:
        first = self._first
        if first is not _NO_ITEM:
            self._first = _NO_ITEM
            if self._read is None:
                self._done = True
            return first  # type: ignore[no-any-return]
        if self._done or self._read is None:
            raise StopAsyncIteration
        try:
            return await self._read()
        except BaseException:
            self._done = True
            raise

    async def aclose(self) -> None:
        """Stop the stream early: close what it reads from (a no-op once it ended)."""
        self._done = True
        self._first = _NO_ITEM
        cancel, self._cancel = self._cancel, None
        close, self._close = self._close, None
        if cancel is not None:
            cancel()
        if close is not None:
            await close()

    def cancel(self) -> None:
        """Stop the stream early without awaiting (what a garbage-collected client does)."""
        self._done = True
        self._first = _NO_ITEM
        cancel, self._cancel = self._cancel, None
        if cancel is not None:
            cancel()


async def opened(items: AsyncIterator[T] | Awaitable[AsyncIterator[T]]) -> Stream[T]:
    """Run ``items`` (a method's async generator) to its first item; the Stream of it all.

    An error before the first item is raised here, the generator closed; so is a
    cancellation (the generator's ``finally`` runs either way).
    """
    if inspect.isawaitable(items):
        items = await items
    iterator = items.__aiter__()
    close = getattr(iterator, "aclose", None)
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        return Stream.empty()
    except BaseException:
        if close is not None:
            await close()
        raise
    return Stream(iterator.__anext__, first, close=close)


class StreamCall(Generic[T]):
    """What a client's streaming method returns: ``async for item in client.watch(...)``.

    Nothing is sent until the first ``__anext__``, which calls ``endpoint`` (through
    retries, balancing and discovery): it returns the opened Stream once the first item
    arrived, so only the opening is retried. Leaving the loop early closes the call:
    ``aclose()``, ``async with``, or, when dropped, at garbage collection.
    """

    __slots__ = ("_call", "_closed", "_endpoint", "_public", "_stream")

    def __init__(
        self,
        endpoint: Endpoint,
        call: Any,
        public: Callable[[BaseException], BaseException | None] | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._call = call
        self._public = public
        self._stream: Stream[T] | None = None
        self._closed = False

    def __aiter__(self) -> StreamCall[T]:
        return self

    async def __anext__(self) -> T:
        stream = self._stream
        if stream is None:
            if self._closed:
                raise StopAsyncIteration
            try:
                stream = await self._endpoint(self._call)
            except Exception as exc:
                self._closed = True
                public = self._public(exc) if self._public is not None else None
                if public is None:
                    raise
                raise public from exc
            if self._closed:  # closed while opening
                await stream.aclose()
                raise StopAsyncIteration
            self._stream = stream
        return await stream.__anext__()

    async def aclose(self) -> None:
        """Close the call (the server's generator is closed in turn)."""
        self._closed = True
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()

    async def __aenter__(self) -> StreamCall[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        stream = self._stream
        if stream is not None:
            stream.cancel()


__all__ = ["Stream", "StreamCall", "item_type", "opened"]
