"""Server streaming over gRPC: a service method that yields is a unary-stream RPC.

Server: ``StreamHandler`` serves one such method. It decodes the request and opens the
method's stream (its endpoint returns once the first item is ready: ``kitcore.stream``),
then writes each item with ``ServicerContext.write``, which awaits grpc's flow control,
so a slow client holds the generator at its ``yield`` instead of letting it run ahead
(backpressure). An error before the first item is the call's status, as for a unary
method; one raised after it reaches the client behind the items already written, with
its status and details. The caller's deadline (capped by ``timeout``) bounds the whole
stream. When the client cancels or goes away, grpc cancels the handler's task, and the
generator is closed where it stands (its ``finally`` runs).

Client: ``open_stream`` starts the call and returns a ``kitcore.stream.Stream`` once the
first item arrived (or the stream ended, or failed), so retries apply to the opening
only; each item after is decoded as it is read; a failed status raises its typed error.
"""

from __future__ import annotations

import time
from typing import Any

import grpc  # type: ignore[import-untyped]

from kit_grpc.errors import from_rpc_error, status_code, wire_error
from kit_grpc.handler import Handler
from kit_grpc.options import Metadata
from kit_grpc.schema import MethodSchema
from kitcore import context
from kitcore.stream import Stream


class StreamHandler(Handler):
    """Serves one server-streaming method: a request in, each item out as it is yielded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.serve = self._serve_stream

    def method_handler(self) -> grpc.RpcMethodHandler:
        """The grpc unary-stream method handler (bytes in, a stream of bytes out)."""
        return grpc.unary_stream_rpc_method_handler(self.serve)

    async def _serve_stream(self, data: bytes, ctx: grpc.aio.ServicerContext[Any, Any]) -> None:
        options = self.options
        metadata: Metadata = () if options.plain else tuple(ctx.invocation_metadata() or ())
        start = time.perf_counter()
        code = grpc.StatusCode.CANCELLED  # until the stream ends: the caller went away
        try:
            try:
                with context.bind(**self._bound_values(metadata)):
                    await self._bounded_stream(data, ctx)
                code = grpc.StatusCode.OK
                return
            except Exception as exc:
                error = exc
            code = status_code(wire_error(error))
            await self._abort(ctx, error)
        finally:
            if options.finalizer:
                self._finalize(metadata, code, time.perf_counter() - start, ctx)

    async def _bounded_stream(self, data: bytes, ctx: grpc.aio.ServicerContext[Any, Any]) -> None:
        # One deadline for the whole stream, not one per item.
        with context.timeout(self._seconds(ctx.time_remaining())):
            await context.enforce(self._pump(data, ctx))

    async def _pump(self, data: bytes, ctx: grpc.aio.ServicerContext[Any, Any]) -> None:
        stream = await self.endpoint(self.decode(data))
        try:
            outgoing = await self._send_header(ctx)
            encode, write = self.encode, ctx.write
            async for item in stream:
                await write(encode(item))
            if outgoing is not None and outgoing.trailer:
                ctx.set_trailing_metadata(outgoing.trailer)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()


async def open_stream(
    multicallable: grpc.aio.UnaryStreamMultiCallable[bytes, bytes],
    method: MethodSchema,
    data: bytes,
    *,
    timeout: float | None,
    metadata: Any = None,
) -> Stream[Any]:
    """Start a streaming call; its Stream once the first item arrived (typed errors raised)."""
    call = multicallable(data, timeout=timeout, metadata=metadata)
    decode = method.decode_response

    async def read() -> Any:
        try:
            reply = await call.read()
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        except BaseException:  # cancelled: the call goes with its reader
            call.cancel()
            raise
        if reply is grpc.aio.EOF:
            raise StopAsyncIteration
        try:
            return decode(reply)
        except BaseException:
            call.cancel()
            raise

    try:
        first = await read()
    except StopAsyncIteration:
        return Stream.empty()
    return Stream(read, first, cancel=call.cancel)


__all__ = ["StreamHandler", "open_stream"]
