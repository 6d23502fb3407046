"""Go kit's explicit style: kit_grpc.Server and ClientEndpoint over generated messages."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from kit_grpc import ClientEndpoint, Outgoing, Server, register

from kitcore import InvalidArgument, NotFound, context


def sum_server(pb: SimpleNamespace, **options: Any) -> Server:
    async def total(request: tuple[int, int]) -> int:
        a, b = request
        if a == b == 0:
            raise InvalidArgument("two zeroes", details={"a": a, "b": b})
        if a < 0:
            raise NotFound("negative", details={"a": a})
        return a + b + int(context.get("bonus", 0))

    return Server(
        total,
        decode=lambda m: (m.a, m.b),
        encode=lambda v: pb.pb2.SumReply(v=v),
        request_type=pb.pb2.SumRequest,
        **options,
    )


async def serving(methods: dict[str, Server]) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    register(server, "calc.Calc", methods)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


async def test_generated_stub_calls_a_kit_server(calc_pb: SimpleNamespace) -> None:
    server, address = await serving({"Sum": sum_server(calc_pb)})
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = calc_pb.grpc.CalcStub(channel)
            reply = await stub.Sum(calc_pb.pb2.SumRequest(a=2, b=3))
            assert reply.v == 5
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Sum(calc_pb.pb2.SumRequest(a=0, b=0))
            assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert err.value.details() == "two zeroes"
    finally:
        await server.stop(None)


async def test_server_options_see_metadata_and_every_call(calc_pb: SimpleNamespace) -> None:
    seen: dict[str, list[Any]] = {"errors": [], "final": []}

    def before(md: Any) -> dict[str, Any]:
        found = dict(md)
        return {"bonus": int(found["x-bonus"])} if "x-bonus" in found else {}

    def after(out: Outgoing) -> None:
        out.header.append(("x-served-by", "kit"))
        out.trailer.append(("x-trailer", "done"))

    kit = sum_server(
        calc_pb,
        before=before,
        after=after,
        error_handler=seen["errors"].append,
        finalizer=lambda md, code, seconds: seen["final"].append((code, seconds >= 0)),
    )
    server, address = await serving({"Sum": kit})
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = calc_pb.grpc.CalcStub(channel)
            call = stub.Sum(calc_pb.pb2.SumRequest(a=1, b=1), metadata=(("x-bonus", "10"),))
            assert (await call).v == 12
            assert ("x-served-by", "kit") in tuple(await call.initial_metadata())
            assert ("x-trailer", "done") in tuple(await call.trailing_metadata())
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.Sum(calc_pb.pb2.SumRequest(a=-1, b=1))
    finally:
        await server.stop(None)
    assert [type(e) for e in seen["errors"]] == [NotFound]
    assert seen["final"] == [(grpc.StatusCode.OK, True), (grpc.StatusCode.NOT_FOUND, True)]


async def test_client_endpoint_with_options(calc_pb: SimpleNamespace) -> None:
    def before(md: Any) -> dict[str, Any]:
        return {"bonus": int(dict(md).get("x-bonus", 0))}

    server, address = await serving(
        {"Sum": sum_server(calc_pb, before=before, after=lambda o: o.header.append(("x-h", "1")))}
    )
    headers: list[Any] = []
    finals: list[Any] = []
    client = ClientEndpoint(
        address,
        "/calc.Calc/Sum",
        encode=lambda r: calc_pb.pb2.SumRequest(a=r[0], b=r[1]),
        decode=lambda m: m.v,
        reply_type=calc_pb.pb2.SumReply,
        before=lambda md: md.append(("x-bonus", "100")),
        after=lambda header, trailer: headers.extend(header),
        finalizer=lambda code, seconds: finals.append(code),
    )
    try:
        assert await client((1, 2)) == 103
        assert ("x-h", "1") in headers
        with pytest.raises(NotFound) as err:
            await client((-5, 1))
        assert err.value.details == {"a": -5}
        with pytest.raises(InvalidArgument) as bad:
            await client((0, 0))
        assert bad.value.details == {"a": 0, "b": 0}
        assert finals == [
            grpc.StatusCode.OK,
            grpc.StatusCode.NOT_FOUND,
            grpc.StatusCode.INVALID_ARGUMENT,
        ]
    finally:
        await client.close()
        await server.stop(None)


async def test_malformed_request_is_invalid_argument(calc_pb: SimpleNamespace) -> None:
    server, address = await serving({"Sum": sum_server(calc_pb)})
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            raw = channel.unary_unary("/calc.Calc/Sum")
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await raw(b"\xff\xff\xff")
            assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            unknown = channel.unary_unary("/calc.Calc/Nope")
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await unknown(b"")
            assert missing.value.code() is grpc.StatusCode.UNIMPLEMENTED
    finally:
        await server.stop(None)


async def test_client_endpoint_to_nowhere_is_unavailable(calc_pb: SimpleNamespace) -> None:
    from kitcore.errors import Unavailable
    from kitcore.testing.services import free_port

    client = ClientEndpoint(
        f"127.0.0.1:{free_port()}",
        "/calc.Calc/Sum",
        encode=lambda r: calc_pb.pb2.SumRequest(a=r[0], b=r[1]),
        decode=lambda m: m.v,
        reply_type=calc_pb.pb2.SumReply,
    )
    try:
        with context.timeout(5), pytest.raises(Unavailable):
            await client((1, 2))
    finally:
        await client.close()
