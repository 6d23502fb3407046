"""Deadlines across transports: three processes, HTTP -> gRPC -> HTTP and gRPC -> HTTP -> gRPC.

Each hop is a process of its own serving ``Hop`` on its transport and calling the next
hop through ``kitcore.connect``. The edge's deadline travels as ``Kit-Timeout`` over HTTP
and as the gRPC deadline over gRPC; each hop records the time it had left, the status it
answered (through the transports' finalizer options) and whether its work finished or
was stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("kit_grpc")
pytest.importorskip("kit_http")

import aiohttp
import grpc
import msgspec

from kitcore import connect, context
from kitcore.testing.services import free_port

HOP = r"""
import asyncio, sys
from kitcore import connect, context
from kitcore.errors import DeadlineExceeded

transport, port, next_url, log_path = sys.argv[1:5]
log_file = open(log_path, "a", buffering=1)
client = None


def log(line):
    log_file.write(line + "\n")


class Hop:
    async def chain(self, sleep: float) -> list[float]:
        left = context.remaining()
        mine = -1.0 if left is None else left
        log("start")
        try:
            if client is None:
                await asyncio.sleep(sleep)
                rest = []
            else:
                rest = await client.chain(sleep)
        except asyncio.CancelledError:
            log("stopped cancelled")
            raise
        except DeadlineExceeded:
            log("stopped deadline")
            raise
        log("finished")
        return [mine, *rest]


def http_final(request, status, seconds):
    log(f"answered {status}")


def grpc_final(metadata, code, seconds):
    log(f"answered {code.name}")


async def main():
    global client
    if next_url != "-":
        client = connect(Hop, next_url, max_attempts=1)
    ready = lambda host, port: print("ready", flush=True)
    if transport == "http":
        from kit_http.serve import serve
        await serve(Hop(), f"127.0.0.1:{port}", started=ready, finalizer=http_final)
    else:
        from kit_grpc.serve import serve
        await serve(Hop(), f"127.0.0.1:{port}", started=ready, finalizer=grpc_final, grace=0)


asyncio.run(main())
"""

DEADLINE = {"http": "504", "grpc": "DEADLINE_EXCEEDED"}
GONE = {"http": "499", "grpc": "CANCELLED"}


class Hop:
    """The client's view of the hop service."""

    async def chain(self, sleep: float) -> list[float]:
        """Each hop's remaining seconds, edge first (the leaf sleeps ``sleep`` first)."""
        raise NotImplementedError


@contextlib.asynccontextmanager
async def hops(tmp_path: Path, transports: list[str]) -> AsyncIterator[list[tuple[str, str, Path]]]:
    """Start the chain leaf first; yields (transport, url, log) per hop, edge first."""
    ports = [free_port() for _ in transports]
    urls = [f"{t}://127.0.0.1:{p}" for t, p in zip(transports, ports, strict=True)]
    children = []
    try:
        for i in reversed(range(len(transports))):
            log = tmp_path / f"hop{i}.log"
            log.touch()
            next_url = urls[i + 1] if i + 1 < len(urls) else "-"
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                HOP,
                transports[i],
                str(ports[i]),
                next_url,
                str(log),
                stdout=asyncio.subprocess.PIPE,
            )
            children.append(child)
            assert child.stdout is not None
            assert await asyncio.wait_for(child.stdout.readline(), 60) == b"ready\n"
        yield [
            (t, u, tmp_path / f"hop{i}.log")
            for i, (t, u) in enumerate(zip(transports, urls, strict=True))
        ]
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()


CHAINS = [["http", "grpc", "http"], ["grpc", "http", "grpc"]]


@pytest.mark.parametrize("transports", CHAINS, ids=["->".join(c) for c in CHAINS])
async def test_the_leaf_sees_the_edge_deadline_less_elapsed_time(
    tmp_path: Path, transports: list[str]
) -> None:
    async with (
        hops(tmp_path, transports) as chain,
        connect(Hop, chain[0][1], max_attempts=1) as client,
    ):
        with context.timeout(5.0):
            edge, middle, leaf = await client.chain(0)
    assert 0 < leaf < middle < edge <= 5.0


async def ended(log: Path) -> list[str]:
    """The hop's log once it has both stopped (or finished) and answered."""
    for _ in range(600):
        lines = log.read_text().splitlines()  # noqa: ASYNC240 (a few bytes, local disk)
        if any(x.startswith("answered") for x in lines) and any(
            x.startswith(("stopped", "finished")) for x in lines
        ):
            return lines
        await asyncio.sleep(0.05)
    raise AssertionError(f"{log.name} never ended: {lines!r}")


async def call_edge(transport: str, url: str, seconds: float) -> str:
    """Call the edge raw with a deadline of ``seconds``; return the status it answered."""
    address = url.split("://", 1)[1]
    body = msgspec.json.encode({"sleep": 30})
    if transport == "http":
        async with aiohttp.ClientSession() as session:
            headers = {
                "Kit-Timeout": str(int(seconds * 1000)),
                "Content-Type": "application/json",
            }
            async with session.post(f"{url}/chain", data=body, headers=headers) as reply:
                wire = msgspec.json.decode(await reply.read())
                assert wire["code"] == "deadline_exceeded"
                return str(reply.status)
    async with grpc.aio.insecure_channel(address) as channel:
        raw = channel.unary_unary("/kit.Hop/Chain")
        try:
            # ChainRequest{sleep: 30.0}: field 1, a little-endian double.
            await raw(b"\x09" + struct.pack("<d", 30.0), timeout=seconds)
        except grpc.aio.AioRpcError as exc:
            return str(exc.code().name)
    raise AssertionError("the edge answered a call that should run out")


@pytest.mark.parametrize("transports", CHAINS, ids=["->".join(c) for c in CHAINS])
async def test_every_hop_answers_deadline_exceeded_and_stops(
    tmp_path: Path, transports: list[str]
) -> None:
    async with hops(tmp_path, transports) as chain:
        # One call first: a hop's first outgoing call imports its client (aiohttp or
        # grpc), which on a loaded machine can take most of a one-second budget.
        async with connect(Hop, chain[0][1], max_attempts=1) as client:
            with context.timeout(30):
                await client.chain(0)
        for _, _, log in chain:
            log.write_text("")
        status = await call_edge(transports[0], chain[0][1], 1.0)
        assert status == DEADLINE[transports[0]]
        logs = [await ended(log) for _, _, log in chain]
    for (transport, _, _), lines in zip(chain, logs, strict=True):
        assert "finished" not in lines, lines
        answered = [x.split()[1] for x in lines if x.startswith("answered")]
        # A hop whose deadline passed answers DeadlineExceeded; one whose caller gave up
        # first has no one to answer (499 / CANCELLED) and was stopped all the same.
        assert answered[0] in (DEADLINE[transport], GONE[transport]), lines
    first = [x.split()[1] for x in logs[0] if x.startswith("answered")]
    assert first == [DEADLINE[transports[0]]]
