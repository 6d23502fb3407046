"""The wire form of a stream over HTTP: newline-delimited JSON, one object a line.

A streaming method's 200 reply is ``application/x-ndjson``: each item is a line
``{"result": <item>}``; an error raised after the first item is a last line
``{"error": {"code", "message", "details"}}`` (kit's error body); the end of the body
is the end of the stream. This is grpc-gateway's form for server streams, so a line is
never ambiguous (an item that looks like an error is still under ``result``), and
``curl -N ... | jq .result`` reads it. An error before the first item is an ordinary
error reply, with its HTTP status.

``LineReader`` reads such a body on the client: lines as they arrive, each decoded into
the item type, an error line raised as its typed error; a line over the size limit is
ReplyTooLarge, and a body cut short (the server or the connection died) Unavailable.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable
from typing import Any

import aiohttp
import msgspec

from kit_http.errors import ReplyTooLarge
from kitcore import context
from kitcore.errors import Internal, Unavailable
from kitcore.errors import from_wire as error_from_wire

CONTENT_TYPE = "application/x-ndjson"
"""The media type of a stream's reply."""

_RESULT, _ERROR, _END = b'{"result":', b'{"error":', b"}\n"


def item_line(encoded: bytes) -> bytes:
    """The line carrying one item, from the item's JSON."""
    return _RESULT + encoded + _END


def error_line(wire: bytes) -> bytes:
    """The last line of a stream that failed, from the error's JSON wire form."""
    return _ERROR + wire + _END


def line_type(item_type: Any, name: str) -> type[msgspec.Struct]:
    """The Struct one line decodes into: ``result`` (an item) or ``error`` (kit's body)."""
    return msgspec.defstruct(
        name,
        [("result", item_type, None), ("error", dict[str, Any] | None, None)],
        module=__name__,
    )


class LineReader:
    """Reads a stream's items from an aiohttp response, within the stream's deadline."""

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        decoder: msgspec.json.Decoder[Any],
        *,
        deadline: float | None,
        max_line: int | None,
        what: str,
    ) -> None:
        self._response = response
        self._decode = decoder.decode
        self._deadline = deadline
        self._max_line = max_line
        self._what = what
        self._lines: deque[bytes] = deque()
        self._pending = b""

    async def read(self) -> Any:
        """The next item; StopAsyncIteration at the end; an error line raises its error."""
        while not self._lines:
            chunk = await self._chunk()
            if not chunk:
                if self._pending.strip():
                    self.cancel()
                    raise Unavailable(f"{self._what}: the stream ended inside a line")
                self._response.release()  # read to its end: the connection is reused
                raise StopAsyncIteration
            lines = (self._pending + chunk).split(b"\n")
            self._pending = lines.pop()
            self._lines.extend(line for line in lines if line.strip())
            if self._max_line is not None and len(self._pending) > self._max_line:
                self.cancel()
                raise ReplyTooLarge(
                    f"a line of {self._what} is over the client's limit of {self._max_line} bytes",
                    details={"limit": self._max_line},
                )
        try:
            line = self._decode(self._lines.popleft())
        except msgspec.MsgspecError as exc:
            self.cancel()
            raise Internal(f"bad stream line from {self._what}: {exc}") from exc
        if line.error is not None:
            self.cancel()
            raise error_from_wire(line.error)
        return line.result

    async def _chunk(self) -> bytes:
        read: Awaitable[bytes] = self._response.content.readany()
        try:
            if self._deadline is None:
                return await read
            with context.timeout(self._deadline - time.monotonic()):
                return await context.enforce(read)
        except aiohttp.ClientPayloadError as exc:
            self.cancel()
            raise Unavailable(f"{self._what}: broken stream: {exc}") from exc
        except aiohttp.ClientConnectionError as exc:
            self.cancel()
            raise Unavailable(f"{self._what}: {type(exc).__name__}: {exc}") from exc
        except BaseException:  # the deadline, or the reader cancelled: the call goes too
            self.cancel()
            raise

    def cancel(self) -> None:
        """Close the connection under the stream (a no-op once it was read to its end)."""
        self._response.close()


__all__ = ["CONTENT_TYPE", "LineReader", "error_line", "item_line", "line_type"]
