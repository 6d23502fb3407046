"""Deadlines and cancellation over gRPC: the caller's time travels, and so does giving up."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from kit_grpc.client import ServiceClient
from kit_grpc.testing import running

import kitcore
from kitcore import context
from kitcore.client import Call
from kitcore.errors import DeadlineExceeded
from kitcore.service import describe


class Sleeper:
    """Sleeps as long as asked, and tells whether it was cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.finished = asyncio.Event()

    async def sleep(self, seconds: float) -> str:
        """Sleep ``seconds``; record a cancellation."""
        self.started.set()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        self.finished.set()
        return "slept"

    async def remaining(self) -> float:
        """The seconds left before this call's deadline (-1: none)."""
        left = context.remaining()
        return -1.0 if left is None else left


async def test_the_caller_deadline_becomes_the_server_context_deadline() -> None:
    async with (
        running(Sleeper()) as address,
        kitcore.connect(Sleeper, f"grpc://{address}") as client,
    ):
        with context.timeout(3.0):
            left = await client.remaining()
        assert 0 < left <= 3.0
        # connect's own overall timeout (10 s) bounds a call with no deadline of its own;
        # grpc rounds the timeout it sends up (to 100 ms steps above a few seconds).
        assert 0 < await client.remaining() <= 10.2


async def test_a_direct_call_without_deadline_has_none() -> None:
    async with running(Sleeper()) as address:
        client = ServiceClient(describe(Sleeper), address)
        try:
            m = describe(Sleeper).methods["remaining"]
            assert await client(Call(m, m.request())) == -1.0
        finally:
            await client.close()


async def test_the_server_timeout_caps_the_caller_deadline() -> None:
    async with running(Sleeper(), timeout=0.5) as address:
        client = ServiceClient(describe(Sleeper), address)
        try:
            m = describe(Sleeper).methods["remaining"]
            with context.timeout(30):
                assert 0 < await client(Call(m, m.request())) <= 0.5
        finally:
            await client.close()


async def test_running_out_is_deadline_exceeded_and_the_server_stops() -> None:
    sleeper = Sleeper()
    async with (
        running(sleeper) as address,
        kitcore.connect(Sleeper, f"grpc://{address}", max_attempts=1) as client,
    ):
        with context.timeout(0.3), pytest.raises(DeadlineExceeded):
            await client.sleep(30)
        await asyncio.wait_for(sleeper.cancelled.wait(), 10)
        assert not sleeper.finished.is_set()


async def test_a_passed_deadline_is_not_sent() -> None:
    sleeper = Sleeper()
    async with running(sleeper) as address:
        client = ServiceClient(describe(Sleeper), address)
        try:
            m = describe(Sleeper).methods["sleep"]
            with context.timeout(0.05):
                await asyncio.sleep(0.1)
                with pytest.raises(DeadlineExceeded):
                    await client(Call(m, m.request(0)))
        finally:
            await client.close()
    assert not sleeper.started.is_set()


async def test_cancelling_the_caller_cancels_the_server_handler() -> None:
    sleeper = Sleeper()
    async with running(sleeper) as address:
        client = ServiceClient(describe(Sleeper), address)
        try:
            m = describe(Sleeper).methods["sleep"]
            call = asyncio.create_task(client(Call(m, m.request(30))))
            await asyncio.wait_for(sleeper.started.wait(), 10)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            await asyncio.wait_for(sleeper.cancelled.wait(), 10)
            assert not sleeper.finished.is_set()
        finally:
            await client.close()


async def test_unreachable_instance_is_unavailable(svc: SimpleNamespace) -> None:
    from kitcore.errors import Unavailable
    from kitcore.testing.services import free_port

    async with kitcore.connect(
        svc.StringService, f"grpc://127.0.0.1:{free_port()}", max_attempts=2, pause=0
    ) as client:
        with pytest.raises(Unavailable):
            await client.count("x")


async def test_a_cancel_just_before_the_deadline_is_reported_as_the_deadline() -> None:
    # The caller's clock started before the request crossed the wire, so it runs out
    # (and cancels) a few ms before the server's: finalizers must see the deadline.
    import struct

    import grpc

    codes: list[grpc.StatusCode] = []
    sleeper = Sleeper()
    async with (
        running(sleeper, finalizer=lambda md, code, seconds: codes.append(code)) as address,
        grpc.aio.insecure_channel(address) as channel,
    ):
        sent = asyncio.get_running_loop().time()
        # SleepRequest{seconds: 30.0}: field 1, a little-endian double.
        call = channel.unary_unary("/kit.Sleeper/Sleep")(
            b"\x09" + struct.pack("<d", 30.0), timeout=5
        )
        await asyncio.wait_for(sleeper.started.wait(), 5)
        await asyncio.sleep(sent + 5 - 0.02 - asyncio.get_running_loop().time())
        call.cancel()  # 20 ms before the deadline, as a caller whose clock ran out
        await asyncio.wait_for(sleeper.cancelled.wait(), 5)
        for _ in range(100):
            if codes:
                break
            await asyncio.sleep(0.01)
    assert codes == [grpc.StatusCode.DEADLINE_EXCEEDED]
