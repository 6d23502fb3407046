"""The client reads replies up to ``max_reply`` bytes (1 MiB by default), and no further."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from kit_http import App
from kit_http.client import MAX_REPLY, ClientEndpoint
from kit_http.errors import ReplyTooLarge
from kit_http.testing import running

from kitcore import connect

BIG = MAX_REPLY + 10


class Big:
    """Replies of any size."""

    async def blob(self, n: int) -> str:
        """``n`` - 2 letters (a JSON string of ``n`` bytes)."""
        return "a" * (n - 2)


@pytest.fixture
async def chunked() -> AsyncIterator[str]:
    """A raw HTTP server replying with a chunked body of ``BIG`` bytes and no length."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Transfer-Encoding: chunked\r\n\r\n")
        body = b'"' + b"a" * (BIG - 2) + b'"'
        for i in range(0, len(body), 65536):
            part = body[i : i + 65536]
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
        writer.write(b"0\r\n\r\n")
        with contextlib.suppress(ConnectionError):  # the client stops reading, as it should
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(reply, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/blob"
    finally:
        server.close()
        await server.wait_closed()


async def test_a_reply_over_the_limit_is_a_typed_error() -> None:
    async with running(App(Big())) as base:
        async with connect(Big, base) as remote:
            assert len(await remote.blob(MAX_REPLY)) == MAX_REPLY - 2
            with pytest.raises(ReplyTooLarge) as caught:
                await remote.blob(BIG)
            # The typed client's error is generic (it may travel on); the attempt's own,
            # with the URL and the limit, is its cause, for logs and traces.
            attempt = caught.value.__cause__.final  # type: ignore[union-attr]
            assert "over the client's limit" in str(attempt)
            assert attempt.details == {"limit": MAX_REPLY}
            assert len(await remote.blob(100)) == 98  # the pool still serves
        endpoint = ClientEndpoint("POST", f"{base}/blob", response_type=str, max_reply=None)
        try:
            assert len(await endpoint({"n": BIG})) == BIG - 2
        finally:
            await endpoint.close()


async def test_a_chunked_reply_is_cut_at_the_limit(chunked: str) -> None:
    small = ClientEndpoint("POST", chunked, response_type=str, max_reply=1000)
    anything = ClientEndpoint("POST", chunked, response_type=str, max_reply=None)
    try:
        with pytest.raises(ReplyTooLarge):
            await small({})
        assert len(await anything({})) == BIG - 2
    finally:
        await small.close()
        await anything.close()


def test_max_reply_must_not_be_negative(svc: SimpleNamespace) -> None:
    with pytest.raises(ValueError, match="max_reply"):
        ClientEndpoint("POST", "http://127.0.0.1:1/x", max_reply=-1)
