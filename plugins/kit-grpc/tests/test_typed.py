"""The typed style: a service class over gRPC with protobuf derived from its signatures."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import grpc
import msgspec
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from kit_grpc.schema import schema
from kit_grpc.serve import start
from kit_grpc.testing import running

import kitcore
from kitcore import InvalidArgument

from .conftest import generate


async def test_every_type_round_trips(svc: SimpleNamespace) -> None:
    Point, Color = svc.Point, svc.Color
    async with (
        running(svc.Shapes()) as address,
        kitcore.connect(svc.Shapes, f"grpc://{address}") as client,
    ):
        p = Point(1, 2.5, ["a", "b"], Point(2, child=Point(3)))
        assert await client.echo_point(p) == p
        got = msgspec.json.decode(
            await client.mix(
                i=-(2**62),
                f=1.25,
                s="é",
                b=b"\x00\xff",
                ok=True,
                c=Color.GREEN,
                ints=[1, 2],
                points=[Point(1), Point(2)],
                names={"a": 1},
                nested={"k": [1, 2], "e": []},
                grid=[[1], [], [2, 3]],
                maybe=0,
                maybe_list=[],
                holes=[1, None, 3],
            )
        )
        assert got == {
            "i": -(2**62),
            "f": 1.25,
            "s": "é",
            "b": "00ff",
            "ok": True,
            "c": "green",
            "ints": [1, 2],
            "points": [{"x": 1, "y": 0.0, "tags": [], "child": None}] * 1
            + [{"x": 2, "y": 0.0, "tags": [], "child": None}],
            "names": {"a": 1},
            "nested": {"k": [1, 2], "e": []},
            "grid": [[1], [], [2, 3]],
            "maybe": 0,
            "maybe_list": [],
            "holes": [1, None, 3],
        }
        defaults = msgspec.json.decode(
            await client.mix(1, 0.0, "", b"", False, Color.RED, [], [], {}, {}, [])
        )
        assert defaults["maybe"] is None and defaults["maybe_list"] is None
        assert defaults["holes"] == []
        assert await client.colors(Color.RED) == [Color.RED, Color.RED]
        assert await client.nothing() is None
        assert await client.maybe(0) is None
        assert await client.maybe(4) == Point(4)
        assert await client.blob(b"abc") == b"cba"


async def test_a_zero_enum_is_invalid_argument(svc: SimpleNamespace) -> None:
    async with running(svc.Shapes()) as address, grpc.aio.insecure_channel(address) as ch:
        raw = ch.unary_unary("/kit.Shapes/Colors")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await raw(b"")  # c left at 0: unspecified
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await raw(b"\x08\x09")  # c = 9: no such member
        assert unknown.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_types_without_a_protobuf_form_are_refused_up_front() -> None:
    class Bad:
        async def f(self, x: int | str) -> int:
            return 0

    with pytest.raises(TypeError, match=r"Bad\.f\.x"):
        schema(Bad)


def kit(*args: str, cwd: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", "from kitcore.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


SERVICE = textwrap.dedent(
    '''
    import enum
    import msgspec

    class Unit(enum.Enum):
        CM = "cm"
        INCH = "inch"

    class Box(msgspec.Struct):
        w: float
        h: float
        unit: Unit = Unit.CM
        labels: dict[str, str] = {}

    class Shop:
        """A service whose .proto is printed by `kit proto`."""

        async def area(self, box: Box) -> float:
            return box.w * box.h

        async def pack(self, boxes: list[Box], note: str | None = None) -> list[str]:
            return [f"{b.w}x{b.h}{b.unit.value}" for b in boxes] + ([note] if note else [])
    '''
)


async def test_kit_proto_output_compiles_and_its_stub_calls_the_server(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(SERVICE)
    text = kit("proto", "shop:Shop", cwd=tmp_path)
    assert "service Shop {" in text and "rpc Area(AreaRequest) returns (AreaResponse);" in text
    proto = tmp_path / "protos" / "shop_kit.proto"
    proto.parent.mkdir()
    proto.write_text(text)
    pb2, pb2_grpc = generate(proto, tmp_path / "gen")
    sys.path.insert(0, str(tmp_path))
    try:
        import shop  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    async with running(shop.Shop()) as address, grpc.aio.insecure_channel(address) as channel:
        stub = pb2_grpc.ShopStub(channel)
        reply = await stub.Area(pb2.AreaRequest(box=pb2.Box(w=2, h=3)))
        assert reply.result == 6.0
        boxes = [pb2.Box(w=1, h=2, unit=pb2.UNIT_INCH, labels={"a": "b"})]
        packed = await stub.Pack(pb2.PackRequest(boxes=boxes, note="fragile"))
        assert list(packed.result) == ["1.0x2.0inch", "fragile"]


def test_kit_proto_names_a_bad_target(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from kitcore.cli import main; main()", "proto", "nope:X"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2 and "nope" in out.stderr


async def test_reflection_lists_and_describes_the_service(svc: SimpleNamespace) -> None:
    async with (
        running(svc.StringService()) as address,
        grpc.aio.insecure_channel(address) as channel,
    ):
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="kit.StringService"),
        ]
        replies = [r async for r in stub.ServerReflectionInfo(iter(requests))]
    names = {s.name for s in replies[0].list_services_response.service}
    assert {"kit.StringService", "grpc.health.v1.Health"} <= names
    from google.protobuf import descriptor_pb2

    files = replies[1].file_descriptor_response.file_descriptor_proto
    described = descriptor_pb2.FileDescriptorProto.FromString(files[0])
    assert [m.name for m in described.service[0].method][:2] == ["Uppercase", "Count"]


async def test_health_serves_then_goes_not_serving_while_draining(
    svc: SimpleNamespace,
) -> None:
    release = asyncio.Event()

    class Slow:
        async def wait(self) -> str:
            await release.wait()
            return "done"

    server = await start(Slow(), "127.0.0.1:0")
    address = f"127.0.0.1:{server.port}"
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", "kit.Slow"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        watch = health.Watch(health_pb2.HealthCheckRequest(service="kit.Slow"))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        async with kitcore.connect(Slow, f"grpc://{address}") as client:
            in_flight = asyncio.create_task(client.wait())
            await asyncio.sleep(0.2)  # let the call reach the server before draining
            drain = asyncio.create_task(server.drain(10))
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
            release.set()
            assert await in_flight == "done"  # a call in flight finishes during the drain
            await drain
        watch.cancel()


async def test_invalid_request_fields_name_the_field(svc: SimpleNamespace) -> None:
    async with (
        running(svc.StringService()) as address,
        kitcore.connect(svc.StringService, f"grpc://{address}") as client,
    ):
        with pytest.raises(InvalidArgument, match="Empty string"):
            await client.uppercase("")
        assert await client.uppercase("abc") == "ABC"


async def test_serving_something_that_is_not_a_service_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot serve"):
        await start({"count": lambda r: r}, "127.0.0.1:0")
