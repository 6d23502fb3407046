"""kitcore.connect over an in-process transport: discovery, round robin, retries, typed errors."""

from __future__ import annotations

from typing import Any

import pytest

from kitcore import Call, NotFound, Unavailable, connect, endpoints, hookimpl
from kitcore.lb import RetryError
from kitcore.plugins import BackendNotFound, Plugins, load
from kitcore.service import ServiceSpec


class Greeter:
    """Says hello."""

    def __init__(self, name: str = "", *, down: bool = False) -> None:
        self.name = name
        self.down = down
        self.calls = 0
        self.attempts = 0  # calls that reached the transport, down or not

    async def hello(self, who: str, punctuation: str = "!") -> str:
        self.calls += 1
        if who == "nobody":
            raise NotFound("nobody is here")
        return f"{self.name}: hello {who}{punctuation}"


def local_transport(servers: dict[str, Greeter], closed: list[str]) -> object:
    """A transport plugin that calls service objects in this process, keyed by instance."""

    def factory(spec: ServiceSpec, instance: str, **options: Any) -> Any:
        server = servers[instance]
        eps = endpoints(server)

        async def endpoint(call: Call) -> Any:
            server.attempts += 1
            if server.down:
                raise Unavailable(f"{instance} is down")
            return await eps[call.method.name](call.request)

        async def close() -> None:
            closed.append(instance)

        return endpoint, close

    class Local:
        @hookimpl
        def kit_register_transports(self, register: Any) -> None:
            register("local", factory)

    return Local()


def manager(servers: dict[str, Greeter], closed: list[str] | None = None) -> Plugins:
    return load(
        entry_points=False,
        extra=[("local", local_transport(servers, closed if closed is not None else []))],
    )


async def test_direct_target_calls_the_instance() -> None:
    servers = {"a:1": Greeter("a")}
    async with connect(Greeter, "local://a:1", manager=manager(servers)) as greeter:
        assert await greeter.hello("ana") == "a: hello ana!"
        assert await greeter.hello("bo", punctuation="?") == "a: hello bo?"
        assert await greeter.hello("cy", ".") == "a: hello cy."


async def test_discovery_target_round_robins_and_closes_everything() -> None:
    servers = {"a:1": Greeter("a"), "b:2": Greeter("b"), "c:3": Greeter("c")}
    closed: list[str] = []
    greeter = connect(
        Greeter, "static://a:1,b:2,c:3", transport="local", manager=manager(servers, closed)
    )
    answers = [await greeter.hello("x") for _ in range(6)]
    assert sorted(a.split(":")[0] for a in answers) == ["a", "a", "b", "b", "c", "c"]
    assert answers[:3] != [answers[0]] * 3
    await greeter.close()
    assert sorted(closed) == ["a:1", "b:2", "c:3"]


async def test_a_down_instance_is_retried_on_the_next() -> None:
    servers = {"a:1": Greeter("a", down=True), "b:2": Greeter("b")}
    async with connect(
        Greeter, "static://a:1,b:2", transport="local", manager=manager(servers)
    ) as greeter:
        for _ in range(4):
            assert await greeter.hello("x") == "b: hello x!"


async def test_caller_fault_errors_keep_their_type_and_are_not_retried() -> None:
    servers = {"a:1": Greeter("a"), "b:2": Greeter("b")}
    async with connect(
        Greeter, "static://a:1,b:2", transport="local", manager=manager(servers)
    ) as greeter:
        with pytest.raises(NotFound, match="nobody is here"):
            await greeter.hello("nobody")
    assert servers["a:1"].calls + servers["b:2"].calls == 1


async def test_when_every_attempt_fails_the_final_type_is_raised_with_all_attempts() -> None:
    servers = {"a:1": Greeter("a", down=True), "b:2": Greeter("b", down=True)}
    async with connect(
        Greeter, "static://a:1,b:2", transport="local", max_attempts=3, manager=manager(servers)
    ) as greeter:
        with pytest.raises(Unavailable) as info:
            await greeter.hello("x")
    cause = info.value.__cause__
    assert isinstance(cause, RetryError)
    assert len(cause.errors) == 3


async def test_bad_arguments_fail_before_any_call() -> None:
    servers = {"a:1": Greeter("a")}
    async with connect(Greeter, "local://a:1", manager=manager(servers)) as greeter:
        with pytest.raises(TypeError):
            await greeter.hello()
    assert servers["a:1"].calls == 0


async def test_unknown_transport_or_discovery_names_the_plugin_to_install() -> None:
    with pytest.raises(BackendNotFound, match="install kit-http"):
        connect(Greeter, "http://127.0.0.1:1", manager=load(entry_points=False))
    with pytest.raises(BackendNotFound, match="install kit-etcd"):
        connect(Greeter, "etcd://127.0.0.1:2379/svc", transport="local", manager=manager({}))


async def test_a_failed_instance_is_set_aside_so_retries_go_elsewhere() -> None:
    servers = {"a:1": Greeter("a", down=True), "b:2": Greeter("b"), "c:3": Greeter("c")}
    async with connect(
        Greeter, "static://a:1,b:2,c:3", transport="local", pause=60.0, manager=manager(servers)
    ) as greeter:
        for _ in range(9):
            assert not (await greeter.hello("x")).startswith("a")
    # The down instance was tried once, then set aside for the pause (round robin alone
    # would have sent every third call there).
    assert servers["a:1"].attempts == 1
    assert servers["b:2"].calls + servers["c:3"].calls == 9
