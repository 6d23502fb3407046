"""kitcore.connect over an in-process transport: discovery, round robin, retries, typed errors."""

from __future__ import annotations

from typing import Any

import pytest

from kitcore import Call, NotFound, Unavailable, connect, endpoints, hookimpl
from kitcore.lb import OutlierEjection, RetryError, RoundRobin
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
        Greeter,
        "static://a:1,b:2,c:3",
        transport="local",
        balancer=RoundRobin,
        manager=manager(servers, closed),
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


async def test_a_failing_instance_is_ejected_so_retries_go_elsewhere() -> None:
    servers = {"a:1": Greeter("a", down=True), "b:2": Greeter("b"), "c:3": Greeter("c")}
    async with connect(
        Greeter,
        "static://a:1,b:2,c:3",
        transport="local",
        balancer=RoundRobin,
        outliers=lambda source: OutlierEjection(source, consecutive_failures=2),
        manager=manager(servers),
    ) as greeter:
        for _ in range(12):
            assert not (await greeter.hello("x")).startswith("a")
    # Ejected after its second failure in a row (round robin alone would have sent
    # every third call there).
    assert servers["a:1"].attempts == 2
    assert servers["b:2"].calls + servers["c:3"].calls == 12


# connect's resilience options: per-instance middleware, budgets, hedging, errors.

import asyncio  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from kitcore import method  # noqa: E402
from kitcore.circuitbreaker import ConsecutiveBreaker, circuit_breaker  # noqa: E402
from kitcore.lb import RetryBudget  # noqa: E402


async def test_instance_middleware_gives_each_instance_its_own_breaker() -> None:
    servers = {"a:1": Greeter("a", down=True), "b:2": Greeter("b")}
    breakers: dict[str, ConsecutiveBreaker] = {}

    def breaker_for(instance: str) -> Any:
        breakers[instance] = ConsecutiveBreaker(fail_max=1, reset_timeout=60)
        return circuit_breaker(breakers[instance])

    async with connect(
        Greeter,
        "static://a:1,b:2",
        transport="local",
        balancer=RoundRobin,
        outliers=False,
        instance_middleware=breaker_for,
        manager=manager(servers),
    ) as greeter:
        answers = await asyncio.gather(*(greeter.hello("x") for _ in range(8)))
    assert answers == ["b: hello x!"] * 8
    assert sorted(breakers) == ["a:1", "b:2"]
    assert breakers["a:1"].state == "open" and breakers["b:2"].state == "closed"
    assert servers["a:1"].attempts == 1  # then its own breaker refused, not b:2's


async def test_a_shared_middleware_breaker_opens_for_every_instance() -> None:
    servers = {"a:1": Greeter("a", down=True), "b:2": Greeter("b")}
    shared = ConsecutiveBreaker(fail_max=1, reset_timeout=60)
    async with connect(
        Greeter,
        "static://a:1,b:2",
        transport="local",
        balancer=RoundRobin,
        outliers=False,
        retry_budget=False,
        max_attempts=2,
        middleware=circuit_breaker(shared),
        manager=manager(servers),
    ) as greeter:
        results = await asyncio.gather(
            *(greeter.hello("x") for _ in range(4)), return_exceptions=True
        )
    assert any(isinstance(r, Unavailable) for r in results)  # why instance_middleware exists


async def test_a_full_outage_costs_at_most_the_budget() -> None:
    servers = {name: Greeter(name, down=True) for name in ("a:1", "b:2", "c:3")}
    async with connect(
        Greeter,
        "static://a:1,b:2,c:3",
        transport="local",
        retry_budget=RetryBudget(min_retries_per_second=0),
        manager=manager(servers),
    ) as greeter:
        results = await asyncio.gather(
            *(greeter.hello("x") for _ in range(300)), return_exceptions=True
        )
    assert all(isinstance(r, Unavailable) for r in results)
    attempts = sum(s.attempts for s in servers.values())
    assert attempts <= 300 * 1.2 + 1  # Go kit's Retry(3): 900


async def test_callers_see_a_generic_message_and_the_cause_keeps_the_detail() -> None:
    servers = {"a:1": Greeter("a", down=True)}
    async with connect(Greeter, "local://a:1", manager=manager(servers)) as greeter:
        with pytest.raises(Unavailable) as info:
            await greeter.hello("x")
    assert "a:1" not in info.value.message and "a:1" not in str(info.value.to_wire())
    assert isinstance(info.value.__cause__, RetryError)
    assert "a:1 is down" in str(info.value.__cause__)


class Catalog:
    """A read (idempotent) and a write (not)."""

    def __init__(self, name: str, gate: asyncio.Event | None = None) -> None:
        self.name = name
        self.gate = gate
        self.calls = 0
        self.attempts = 0
        self.down = False

    @method(idempotent=True)
    async def read(self, key: str) -> str:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return self.name

    async def write(self, key: str) -> str:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return self.name


async def test_idempotent_methods_are_hedged_and_others_are_not() -> None:
    servers: Any = {"a:1": Catalog("a"), "b:2": Catalog("b")}
    async with connect(
        Catalog,
        "static://a:1,b:2",
        transport="local",
        balancer=RoundRobin,
        hedge=0.5,  # a large share, so that the test needs few calls
        manager=manager(servers),
    ) as catalog:
        for _ in range(60):
            await catalog.read("k")
        servers["a:1"].gate = asyncio.Event()  # a:1 hangs from now on
        answers = [await catalog.read("k") for _ in range(6)]
        assert answers == ["b"] * 6  # each read that went to a:1 was hedged to b:2
        servers["b:2"].gate = servers["a:1"].gate  # now both hang
        before = servers["a:1"].calls + servers["b:2"].calls
        write = asyncio.ensure_future(catalog.write("k"))
        for _ in range(20):  # ample time for a backup, were one to be sent
            await asyncio.sleep(0.01)
        assert servers["a:1"].calls + servers["b:2"].calls == before + 1
        servers["a:1"].gate.set()
        assert await write in ("a", "b")


def test_a_target_without_a_scheme_says_so() -> None:
    with pytest.raises(ValueError, match=r"no scheme.*'http://localhost:28100'"):
        connect(Greeter, "localhost:28100", manager=manager({}))


MYPY_SNIPPET = """
from kitcore import close, closing, connect

class WordService:
    async def count_words(self, text: str) -> int:
        return len(text.split())

async def main() -> None:
    words = connect(WordService, "http://127.0.0.1:1")
    n: int = await words.count_words("a b")
    await close(words)
    async with closing(connect(WordService, "http://127.0.0.1:1")) as remote:
        m: int = await remote.count_words("c")
    print(n + m)
"""


def run_mypy(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "snippet.py").write_text(code)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", ".cache", "snippet.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_mypy_sees_the_service_methods_on_a_connected_client(tmp_path: Path) -> None:
    good = run_mypy(tmp_path, MYPY_SNIPPET)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = run_mypy(tmp_path, MYPY_SNIPPET.replace('count_words("a b")', "count_words(42)"))
    assert bad.returncode == 1
    assert 'Argument 1 to "count_words" of "WordService" has incompatible type "int"' in bad.stdout
