"""Bad input: malformed protobuf, unknown methods, oversized messages, random bytes."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit_grpc.schema import schema
from kit_grpc.testing import ServerThread, running

import kitcore
from kitcore.errors import ResourceExhausted

MIB = 1024 * 1024


async def test_unknown_methods_and_services_are_unimplemented(svc: SimpleNamespace) -> None:
    async with running(svc.StringService()) as address, grpc.aio.insecure_channel(address) as ch:
        for path in ("/kit.StringService/Nope", "/kit.Nope/Count", "/garbage"):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await ch.unary_unary(path)(b"")
            assert err.value.code() is grpc.StatusCode.UNIMPLEMENTED, path


async def test_malformed_protobuf_is_invalid_argument(svc: SimpleNamespace) -> None:
    async with running(svc.StringService()) as address, grpc.aio.insecure_channel(address) as ch:
        count = ch.unary_unary("/kit.StringService/Count")
        for data in (b"\xff", b"\x0a\x05ab", b"\x0a\x02\xc3\x28"):  # bad tag, short, bad UTF-8
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await count(data)
            assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT, data


async def test_oversized_requests_are_resource_exhausted(svc: SimpleNamespace) -> None:
    big = "x" * (5 * MIB)
    options = [("grpc.max_send_message_length", 64 * MIB)]
    async with (
        running(svc.StringService()) as address,
        grpc.aio.insecure_channel(address, options=options) as ch,
    ):
        count = ch.unary_unary("/kit.StringService/Count")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await count(b"\x0a" + _varint(len(big)) + big.encode())
        assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        # Under the limit, the same call works.
        assert await count(b"\x0a\x03abc") == b"\x08\x03"


async def test_max_message_is_configurable_both_ways(svc: SimpleNamespace) -> None:
    async with (
        running(svc.StringService(), max_message=1024) as address,
        kitcore.connect(svc.StringService, f"grpc://{address}", max_message=1024) as client,
    ):
        assert await client.count("x" * 100) == 100
        with pytest.raises(ResourceExhausted):
            await client.count("x" * 2048)  # refused by the client's own limit
    async with (
        running(svc.StringService(), max_message=1024) as address,
        kitcore.connect(svc.StringService, f"grpc://{address}", max_attempts=1) as client,
    ):
        with pytest.raises(ResourceExhausted):
            await client.count("x" * 2048)  # refused by the server


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


@pytest.fixture(scope="module")
def fuzzed(svc: SimpleNamespace) -> Iterator[SimpleNamespace]:
    """Shapes and StringService (bar its deliberately failing ``boom``) on one server."""
    Shapes, StringService = svc.Shapes, svc.StringService
    with ServerThread([Shapes(), StringService()]) as server:
        paths = [
            m.path
            for cls in (Shapes, StringService)
            for m in schema(cls).methods.values()
            if m.method.attr != "boom"
        ]
        with grpc.insecure_channel(server.address) as channel:
            yield SimpleNamespace(channel=channel, paths=paths)
            # No crash: after all that, the server still answers.
            count = channel.unary_unary("/kit.StringService/Count")
            assert count(b"\x0a\x03abc", timeout=10) == b"\x08\x03"
    assert server.error is None


ALLOWED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
}


def _call(fuzzed: SimpleNamespace, index: int, data: bytes) -> None:
    path = fuzzed.paths[index % len(fuzzed.paths)]
    call = fuzzed.channel.unary_unary(path)
    try:
        call(data, timeout=10)
    except grpc.RpcError as exc:
        assert exc.code() in ALLOWED, (path, data, exc.code(), exc.details())


FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(data=st.binary(max_size=256), index=st.integers(min_value=0))
def test_random_bytes_to_every_method_never_internal(
    fuzzed: SimpleNamespace, data: bytes, index: int
) -> None:
    _call(fuzzed, index, data)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


_numbers = st.integers(min_value=1, max_value=16)
_scalar_fields = st.one_of(
    st.builds(lambda n, v: _key(n, 0) + _varint(v), _numbers, st.integers(0, 2**64 - 1)),
    st.builds(lambda n, b: _key(n, 1) + b, _numbers, st.binary(min_size=8, max_size=8)),
    st.builds(lambda n, b: _key(n, 5) + b, _numbers, st.binary(min_size=4, max_size=4)),
    st.builds(lambda n, b: _key(n, 2) + _varint(len(b)) + b, _numbers, st.binary(max_size=16)),
)
# Well-formed protobuf of random fields, nested messages included: random bytes rarely
# get past the first tag, these reach the typed decoding of every field.
_messages = st.recursive(
    st.lists(_scalar_fields, max_size=6).map(b"".join),
    lambda inner: st.lists(
        st.one_of(
            _scalar_fields,
            st.builds(lambda n, m: _key(n, 2) + _varint(len(m)) + m, _numbers, inner),
        ),
        max_size=6,
    ).map(b"".join),
    max_leaves=12,
)


@FUZZ
@given(data=_messages, index=st.integers(min_value=0))
def test_random_fields_to_every_method_never_internal(
    fuzzed: SimpleNamespace, data: bytes, index: int
) -> None:
    _call(fuzzed, index, data)


def test_every_method_is_fuzzed(fuzzed: SimpleNamespace) -> None:
    assert len(fuzzed.paths) == 11  # 6 of Shapes, 5 of StringService
