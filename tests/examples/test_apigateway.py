"""apigateway over real discovery: instances register, the gateway finds them, a kill costs nothing.

Everything runs for real: etcd and ZooKeeper servers, stringsvc instances and the
gateway as subprocesses, HTTP over loopback; Consul, which cannot be installed here, is
kit-consul's fake agent in its own process. The instances log each request they serve
and the gateway logs each failed attempt and each instance it adds or removes, so the
tests read the round robin and the retries from those logs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kit_consul.fake import agent_process

from examples.apigateway.gateway import Route, parse_route
from examples.stringsvc1.service import StringService
from kitcore import sd
from kitcore.testing.servers import EtcdServer, ZooKeeperServer, etcd_server, zookeeper_server
from kitcore.testing.services import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
SERVED = "path=/uppercase status=200"
"""What an instance logs for each uppercase call it answered."""


class Instance:
    """A stringsvc instance subprocess registering itself at ``sd_url``, and its log."""

    def __init__(self, sd_url: str, log: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self._log_path = log
        self._log = log.open("w")
        argv = ["--listen", self.address, "--sd", sd_url]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "examples.apigateway.instance", *argv],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        """Everything the instance logged so far."""
        return self._log_path.read_text()

    def served(self, at_least: int = 0, timeout: float = 5.0) -> int:
        """How many uppercase calls the instance answered, waiting for ``at_least``.

        An instance logs a call once its answer is sent: the log may lag the caller a bit.
        """
        deadline = time.monotonic() + timeout
        while True:
            count = self.log().count(SERVED)
            if count >= at_least or time.monotonic() > deadline:
                return count
            time.sleep(0.02)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` (if still running) and return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=15)
        finally:
            self._log.close()


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[Callable[[str, int], list[Instance]]]:
    """Start ``n`` instances registering at a URL; after the test each still running is
    stopped with SIGTERM and must exit 0 (those the test killed are only reaped)."""
    started: list[Instance] = []

    def start(sd_url: str, n: int) -> list[Instance]:
        new = [Instance(sd_url, tmp_path / f"instance-{len(started) + i}.log") for i in range(n)]
        started.extend(new)
        for instance in new:
            try:
                wait_port("127.0.0.1", instance.port, timeout=20)
            except TimeoutError:
                raise AssertionError(f"instance did not start:\n{instance.log()}") from None
        return new

    yield start
    running = [i for i in started if i.process.poll() is None]
    for instance in started:
        instance.stop()
    failed = {i.address: i.log() for i in running if i.process.returncode != 0}
    assert not failed, f"instances exited non-zero: {failed}"


def _addresses(instances: list[Instance]) -> set[str]:
    return {i.address for i in instances}


@pytest.fixture
def etcd() -> Iterator[EtcdServer]:
    """A real etcd for the test (requested before the processes, so it outlives them)."""
    with etcd_server() as server:
        yield server


@pytest.fixture
def zookeeper() -> Iterator[ZooKeeperServer]:
    """A real ZooKeeper for the test (requested before the processes, so it outlives them)."""
    with zookeeper_server() as server:
        yield server


@pytest.fixture
def consul() -> Iterator[int]:
    """kit-consul's fake agent in a process of its own (this test's loop blocks at times);
    yields its port."""
    with agent_process() as port:
        yield port


async def registered(sd_url: str, want: Callable[[set[str]], bool], timeout: float = 15) -> None:
    """Watch ``sd_url`` until its instance set satisfies ``want``."""
    instancer = sd.instancer(sd_url)

    async def watch() -> None:
        async for event in instancer.subscribe():
            if event.error is None and want(set(event.instances)):
                return
        raise AssertionError("the instancer closed")

    try:
        await asyncio.wait_for(watch(), timeout)
    finally:
        await instancer.close()


async def uppercase(http: aiohttp.ClientSession, base: str, s: str) -> tuple[int, str]:
    """POST ``{"s": s}`` to ``base/uppercase``; the status and body."""
    async with http.post(f"{base}/uppercase", json={"s": s}) as r:
        return r.status, await r.text()


def gateway_found(gateway: Any, instances: list[Instance]) -> None:
    """Wait until the gateway has added every one of ``instances`` (its first discovery
    answer may come before a loaded machine ran every instance's heartbeat)."""
    for instance in instances:
        found = gateway.log_lines(f'msg="instance added" instance={instance.address}', timeout=10)
        assert found, f"the gateway never added {instance.address}:\n{gateway.log()}"


def served_evenly(gateway: Any, instances: list[Instance], each: int) -> None:
    """Assert round robin gave each instance ``each`` calls; else show the gateway's log."""
    served = [i.served(each) for i in instances]
    assert served == [each] * len(instances), f"served {served}:\n{gateway.log()}"


async def steady_load(
    http: aiohttp.ClientSession,
    base: str,
    count: int,
    interval: float,
    sent: Callable[[int], None],
) -> list[Any]:
    """Send ``count`` calls, one every ``interval`` seconds whatever the answers' pace;
    ``sent(i)`` runs after call ``i`` left. Returns each call's result or exception."""
    calls = []
    for i in range(count):
        calls.append(asyncio.ensure_future(uppercase(http, base, f"call {i}")))
        sent(i)
        await asyncio.sleep(interval)
    return await asyncio.gather(*calls, return_exceptions=True)


async def kill_under_load(
    http: aiohttp.ClientSession,
    gateway: Any,
    sd_url: str,
    instances: list[Instance],
    *,
    calls: int,
    kill_at: int,
) -> None:
    """SIGKILL ``instances[0]`` at call ``kill_at`` of a steady load through the gateway.

    Every call must succeed; the dead instance must leave ``sd_url``'s set and the
    gateway's, which then no longer tries it.
    """
    victim, others = instances[0], instances[1:]
    api = f"{gateway.url}/stringsvc"

    def kill(i: int) -> None:
        if i == kill_at:
            victim.process.kill()

    gone = asyncio.ensure_future(registered(sd_url, lambda found: found == _addresses(others)))
    try:
        results = await steady_load(http, api, calls, 0.005, kill)
        failures = [(i, r) for i, r in enumerate(results) if r != (200, f'"CALL {i}"')]
        assert not failures, failures
        assert victim.stop() == -signal.SIGKILL
        await gone
    finally:
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
    assert gateway.log_lines(f'msg="instance removed" instance={victim.address}')
    before = len(gateway.log_lines('msg="attempt failed"', count=0))
    for i in range(6):
        assert await uppercase(http, api, f"after {i}") == (200, f'"AFTER {i}"')
    assert len(gateway.log_lines('msg="attempt failed"', count=0)) == before


async def test_killed_instance_costs_no_request(
    etcd: EtcdServer, example: Callable[..., Any], instances: Callable[[str, int], list[Instance]]
) -> None:
    # ttl=2: a killed instance's lease runs out within two seconds.
    sd_url = f"etcd://{etcd.url}/services/stringsvc?ttl=2"
    three = instances(sd_url, 3)
    await registered(sd_url, lambda found: found == _addresses(three))
    gateway = example("examples.apigateway", "--sd", sd_url, "--retry-timeout", "3")
    api = f"{gateway.url}/stringsvc"
    victim = three[0]
    gateway_found(gateway, three)

    async with aiohttp.ClientSession() as http:
        # Round robin: nine calls, three to each instance.
        for i in range(9):
            assert await uppercase(http, api, f"hello {i}") == (200, f'"HELLO {i}"')
        served_evenly(gateway, three, 3)
        # Typed errors pass through: the same 400 and JSON as the instance's own.
        direct = await uppercase(http, three[1].url, "")
        assert direct[0] == 400 and '"message":"Empty string"' in direct[1]
        assert await uppercase(http, api, "") == direct
        async with http.post(f"{api}/count", json={"s": "hello, world"}) as r:
            assert (r.status, await r.text()) == (200, "12")

        # A steady load; the victim is killed outright a third of the way in. Its lease
        # runs out: it leaves etcd's set, and the gateway's.
        await kill_under_load(http, gateway, sd_url, three, calls=300, kill_at=100)
        assert victim.served() > 3  # it answered its share of the load until it died
        # Retries covered for it: calls did reach the dead instance, and failed there.
        assert gateway.log_lines(f'msg="attempt failed" instance={victim.address}')


async def test_zookeeper_by_configuration_alone(
    zookeeper: ZooKeeperServer,
    example: Callable[..., Any],
    instances: Callable[[str, int], list[Instance]],
) -> None:
    sd_url = f"zk://{zookeeper.hosts}/services/stringsvc"
    two = instances(sd_url, 2)
    await registered(sd_url, lambda found: found == _addresses(two))
    gateway = example("examples.apigateway", "--sd", sd_url)
    api = f"{gateway.url}/stringsvc"

    async with aiohttp.ClientSession() as http:
        for i in range(4):
            assert await uppercase(http, api, f"zk {i}") == (200, f'"ZK {i}"')
        assert [i.served(2) for i in two] == [2, 2]

        # A graceful stop deregisters first: the node goes at once, no call is lost.
        leaving, staying = two
        assert leaving.stop() == 0
        assert "msg=deregistered" in leaving.log()
        await registered(sd_url, lambda found: found == {staying.address})
        assert gateway.log_lines(f'msg="instance removed" instance={leaving.address}')
        for i in range(3):
            assert await uppercase(http, api, f"one {i}") == (200, f'"ONE {i}"')
        assert staying.served(5) == 5
        assert not gateway.log_lines('msg="attempt failed"', count=0, timeout=0)


async def test_consul_ttl_checks_take_a_killed_instance_out(
    consul: int, example: Callable[..., Any], instances: Callable[[str, int], list[Instance]]
) -> None:
    # ttl=2s: an instance that stops passing its TTL check leaves the passing set.
    sd_url = f"consul://127.0.0.1:{consul}/stringsvc?ttl=2s"
    three = instances(sd_url, 3)
    await registered(sd_url, lambda found: found == _addresses(three))
    gateway = example("examples.apigateway", "--sd", sd_url, "--retry-timeout", "3")
    api = f"{gateway.url}/stringsvc"
    gateway_found(gateway, three)

    async with aiohttp.ClientSession() as http:
        for i in range(6):
            assert await uppercase(http, api, f"consul {i}") == (200, f'"CONSUL {i}"')
        served_evenly(gateway, three, 2)

        # Its TTL check goes critical: out of the passing set, and the gateway's.
        await kill_under_load(http, gateway, sd_url, three, calls=150, kill_at=50)


def test_unknown_service_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.apigateway", "--sd", "nosuch=etcd://h:1/x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "unknown service 'nosuch'" in result.stderr


def test_sd_option_names_the_service_or_defaults_to_stringsvc() -> None:
    route = parse_route("etcd://127.0.0.1:2379/services/stringsvc?ttl=2")
    assert route == Route(
        "stringsvc", StringService, "etcd://127.0.0.1:2379/services/stringsvc?ttl=2"
    )
    assert parse_route("stringsvc=zk://h:2181/p?a=b").sd_url == "zk://h:2181/p?a=b"
    with pytest.raises(ValueError, match="unknown service 'addsvc'"):
        parse_route("addsvc=etcd://h:2379/services/addsvc")
    with pytest.raises(ValueError, match="not a discovery URL"):
        parse_route("127.0.0.1:2379")
