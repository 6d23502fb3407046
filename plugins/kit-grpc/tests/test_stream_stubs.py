"""A kit stream read by the stub protoc generates from ``kit proto``: any language's client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import msgspec
import pytest
from kit_grpc.serve import proto_text
from kit_grpc.testing import running

from kitcore import NotFound

from .conftest import generate


class Reading(msgspec.Struct):
    """One sensor reading."""

    sensor: str
    value: float


class Sensors:
    """Readings as a stream."""

    async def readings(self, sensor: str, count: int) -> AsyncIterator[Reading]:
        """``count`` readings of ``sensor``, then NotFound for the one after."""
        for i in range(count):
            yield Reading(sensor, i / 2)
        raise NotFound(f"no reading {count} of {sensor}")


async def test_the_generated_stub_reads_a_kit_stream(tmp_path: Path) -> None:
    proto = tmp_path / "protos" / "sensors_kit.proto"
    proto.parent.mkdir()
    proto.write_text(proto_text(Sensors))
    pb2, pb2_grpc = generate(proto, tmp_path / "gen")
    async with running(Sensors()) as address, grpc.aio.insecure_channel(address) as channel:
        stub = pb2_grpc.SensorsStub(channel)
        got = []
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for reply in stub.Readings(pb2.ReadingsRequest(sensor="t1", count=3)):
                got.append((reply.result.sensor, reply.result.value))
        assert got == [("t1", 0.0), ("t1", 0.5), ("t1", 1.0)]
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
        assert err.value.details() == "no reading 3 of t1"
