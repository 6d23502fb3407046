"""kitcore.connect over gRPC through etcd: one channel per instance, closed when it leaves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("kit_grpc")
pytest.importorskip("kit_etcd")

from kit_grpc.client import client_factory
from kit_grpc.testing import running

from kitcore import connect, hookimpl
from kitcore.plugins import load
from kitcore.sd import registrar
from kitcore.testing.servers import EtcdServer, etcd_server


class Named:
    """Answers with the name of the instance that served the call."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def who(self) -> str:
        """This instance's name."""
        return self.name


@pytest.fixture
def etcd() -> Iterator[EtcdServer]:
    with etcd_server() as server:
        yield server


def spy(closed: list[str]) -> object:
    """kit-grpc's own client factory, recording each closer run."""

    def factory(spec: Any, instance: str, **options: Any) -> Any:
        endpoint, close = client_factory(spec, instance, **options)

        async def closing() -> None:
            closed.append(instance)
            await close()

        return endpoint, closing

    class Spy:
        @hookimpl
        def kit_register_transports(self, register: Any) -> None:
            register("grpc-spy", factory)

    return Spy()


async def until(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_connect_through_etcd_with_the_grpc_transport(etcd: EtcdServer) -> None:
    url = f"etcd://{etcd.url}/kit-tests/named"
    closed: list[str] = []
    manager = load(extra=[("grpc-spy", spy(closed))])
    async with running(Named("a")) as a, running(Named("b")) as b:
        reg_a, reg_b = registrar(url, a), registrar(url, b)
        await reg_a.register()
        await reg_b.register()
        try:
            async with connect(Named, url, transport="grpc-spy", manager=manager) as client:
                seen: set[str] = set()

                async def both() -> bool:
                    seen.add(await client.who())
                    return seen == {"a", "b"}

                await until(both)
                await reg_a.deregister()

                async def only_b() -> bool:
                    return closed == [a] and await client.who() == "b"

                await until(only_b)
                assert {await client.who() for _ in range(6)} == {"b"}
            assert sorted(closed) == sorted([a, b])
        finally:
            await reg_a.close()
            await reg_b.close()


async def test_the_grpc_transport_is_registered(etcd: EtcdServer) -> None:
    url = f"etcd://{etcd.url}/kit-tests/plain"
    async with running(Named("x")) as x:
        reg = registrar(url, x)
        await reg.register()
        try:
            async with connect(Named, url, transport="grpc") as client:

                async def answers() -> bool:
                    try:
                        return await client.who() == "x"
                    except Exception:
                        return False

                await until(answers)
        finally:
            await reg.close()
