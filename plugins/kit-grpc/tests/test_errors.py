"""Typed errors over gRPC: every kit error keeps its class, message and details."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from kit_grpc.errors import DETAILS_KEY, from_status, status_code, trailer
from kit_grpc.testing import running

import kitcore
from kitcore.errors import ERRORS, Internal, KitError, NotFound, ResourceExhausted


class Raiser:
    """Raises the error kind it is asked for."""

    async def fail(self, code: str) -> str:
        """Raise the kit error of wire code ``code``."""
        cls = ERRORS[code]
        raise cls(f"{code} happened", details={"code": code, "n": 7, "list": [1, "x", None]})


@pytest.mark.parametrize("code", sorted(ERRORS))
async def test_every_kit_error_is_raised_again_on_the_client(code: str) -> None:
    async with (
        running(Raiser()) as address,
        kitcore.connect(Raiser, f"grpc://{address}", max_attempts=1) as client,
    ):
        with pytest.raises(KitError) as err:
            await client.fail(code)
    assert type(err.value) is ERRORS[code]
    assert err.value.message == f"{code} happened"
    assert err.value.details == {"code": code, "n": 7, "list": [1, "x", None]}


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_status_round_trip_without_a_server(code: str) -> None:
    error = ERRORS[code]("m", details={"k": {"deep": 1.5}})
    back = from_status(status_code(error), error.message, trailer(error))
    assert type(back) is type(error) and back.details == error.details
    assert back.remote  # a peer's own words: retries pass them on unchanged
    assert status_code(error).value[0] == error.grpc_code


async def test_foreign_clients_read_a_standard_status(svc: SimpleNamespace) -> None:
    async with running(svc.StringService()) as address, grpc.aio.insecure_channel(address) as ch:
        raw = ch.unary_unary("/kit.StringService/Find")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await raw(b"\n\x03abc")  # FindRequest{key: "abc"}
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
    blob = dict(err.value.trailing_metadata())[DETAILS_KEY]
    status = status_pb2.Status.FromString(blob)
    assert status.code == grpc.StatusCode.NOT_FOUND.value[0]
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert (info.domain, info.reason) == ("kit", "not_found")
    assert dict(info.metadata) == {"key": '"abc"', "tries": "3", "nested": '{"a":[1.5]}'}


async def test_unexpected_exception_is_internal_and_leaks_nothing(
    svc: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        running(svc.StringService()) as address,
        kitcore.connect(svc.StringService, f"grpc://{address}", max_attempts=1) as c,
    ):
        with pytest.raises(Internal) as err:
            await c.boom()
    assert err.value.message == "internal error"
    assert "hunter2" not in repr(err.value) and "hunter2" not in str(err.value.details)
    assert "hunter2" in caplog.text  # the server's log has it, the wire does not


def test_a_foreign_status_maps_by_code() -> None:
    cases: list[tuple[grpc.StatusCode, type[KitError]]] = [
        (grpc.StatusCode.NOT_FOUND, NotFound),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, ResourceExhausted),
        (grpc.StatusCode.UNKNOWN, Internal),
    ]
    for code, cls in cases:
        assert type(from_status(code, "x")) is cls
    garbage: Any = ((DETAILS_KEY, b"\xff\xff"),)
    assert type(from_status(grpc.StatusCode.NOT_FOUND, "x", garbage)) is NotFound
