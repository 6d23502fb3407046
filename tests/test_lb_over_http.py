"""kitcore.connect's default client over real kit-http sockets, with a black-holed instance.

A black hole accepts TCP connections and reads the request, then never answers: a
stopped process, a wedged event loop, a lost return path. With one overall deadline a
call that reaches it spends all of it; connect's defaults (per-attempt timeouts, P2C
over peak EWMA, outlier ejection, the retry budget) must turn it into no failed call:
the attempt times out at its share of the deadline and the retry reaches a live
instance. ``plugins/kit-http/tests/test_hung_instance.py`` does the same with a
SIGSTOPped ``kit serve`` process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from kit_http import App
from kit_http.testing import running

from kitcore import closing, connect, method


class Echo:
    """One idempotent method, so connect's hedging is on too."""

    def __init__(self) -> None:
        self.calls = 0

    @method(idempotent=True)
    async def echo(self, s: str) -> str:
        """Return ``s``."""
        self.calls += 1
        return s


@contextlib.asynccontextmanager
async def black_hole() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A socket that accepts and reads every connection and never writes a byte back."""
    received: list[bytes] = []
    writers: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                received.append(data)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}", received
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def test_a_black_hole_costs_no_failed_call_through_connects_defaults() -> None:
    live = [Echo(), Echo()]
    async with (
        black_hole() as (hole, received),
        running(App(live[0])) as first,
        running(App(live[1])) as second,
    ):
        hosts = ",".join([hole, first.removeprefix("http://"), second.removeprefix("http://")])
        async with closing(connect(Echo, f"static://{hosts}")) as remote:
            results = []
            for wave in range(4):  # concurrent waves: every instance is picked in each
                results += await asyncio.gather(
                    *(remote.echo(f"{wave}-{i}") for i in range(30)), return_exceptions=True
                )
    expected = [f"{w}-{i}" for w in range(4) for i in range(30)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert failed == [], [str(f.__cause__ or f) for f in failed]
    assert results == expected
    assert received, "no attempt ever reached the black hole: the test proved nothing"
    assert live[0].calls + live[1].calls >= len(expected)


async def test_without_attempt_timeouts_the_black_hole_fails_calls() -> None:
    """The control: the same fleet and load with the per-attempt timeout switched off."""
    live = Echo()
    async with black_hole() as (hole, _), running(App(live)) as url:
        hosts = f"{hole},{url.removeprefix('http://')}"
        async with closing(
            connect(
                Echo,
                f"static://{hosts}",
                timeout=0.5,
                attempt_timeout=False,
                hedge=None,
                outliers=False,
            )
        ) as remote:
            results = await asyncio.gather(
                *(remote.echo(str(i)) for i in range(20)), return_exceptions=True
            )
    assert any(isinstance(r, BaseException) for r in results)


async def test_a_live_instance_leaving_mid_flight_costs_no_failed_call() -> None:
    stays, leaves = Echo(), Echo()
    async with running(App(stays)) as kept:
        gone = running(App(leaves))
        url = await gone.__aenter__()
        hosts = f"{kept.removeprefix('http://')},{url.removeprefix('http://')}"
        async with closing(connect(Echo, f"static://{hosts}", timeout=3.0)) as remote:
            first = await asyncio.gather(*(remote.echo(str(i)) for i in range(30)))
            calls = [asyncio.ensure_future(remote.echo(f"late-{i}")) for i in range(60)]
            await asyncio.sleep(0)
            await gone.__aexit__(None, None, None)  # the server stops with calls in flight
            results = await asyncio.gather(*calls, return_exceptions=True)
    assert first == [str(i) for i in range(30)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert failed == [], [str(f.__cause__ or f) for f in failed]
    assert leaves.calls > 0
