"""ConsulRegistrar against the fake Consul agent: registration, checks, crashes, ACLs."""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import kit_consul.plugin
import pytest
from aiohttp import web
from kit_consul import (
    AgentOptions,
    ConsulAuthError,
    ConsulError,
    ConsulInstancer,
    ConsulPermissionError,
    ConsulRegistrar,
    RegisterOptions,
    WatchOptions,
    make_client,
)

from kitcore.backoff import Backoff
from kitcore.errors import PermissionDenied, Unauthenticated
from kitcore.plugins import load, reset
from kitcore.sd import Event, instancer, is_final, register_with_backoff, registrar
from kitcore.testing.sd import check_registrar, event_where, registered_process


class Recorder:
    """A logger keeping every record, to check what is (and is not) logged."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def log(self, **kv: Any) -> None:
        """Keep the record."""
        self.records.append(kv)


def agent_of(fake: Any, **kw: Any) -> AgentOptions:
    """Options reaching ``fake``, with a short request timeout."""
    return AgentOptions(host=fake.host, port=fake.port, **{"timeout": 2.0, **kw})


@pytest.fixture
async def client(fake_consul: Any) -> AsyncIterator[Any]:
    """A py-consul client of the fake agent, to look at what was registered."""
    made = make_client(agent_of(fake_consul), session_timeout=5.0)
    yield made
    await made.close()


def healthy(client: Any, service: str = "svc") -> Callable[[], Any]:
    """``instances()`` for check_registrar: the passing ``host:port`` of ``service``."""

    async def instances() -> set[str]:
        _, entries = await client.health.service(service, passing=True)
        return {f"{e['Service']['Address']}:{e['Service']['Port']}" for e in entries}

    return instances


async def next_event(subscription: AsyncIterator[Event], timeout: float = 5.0) -> Event:
    """The next event, failing the test after ``timeout`` seconds."""
    return await asyncio.wait_for(anext(subscription), timeout)


def assert_no_tasks_left() -> None:
    """No watch or heartbeat task of kit-consul is still running."""
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("Consul")] == []


async def test_conformance_against_the_fake_agent(fake_consul: Any, client: Any) -> None:
    agent = agent_of(fake_consul)
    await check_registrar(
        lambda instance: ConsulRegistrar(agent, RegisterOptions("svc", ttl=1.0), instance),
        healthy(client),
    )
    assert fake_consul.services == {}
    assert_no_tasks_left()


async def test_registers_id_address_tags_meta_and_a_ttl_check(
    fake_consul: Any, client: Any
) -> None:
    options = RegisterOptions("svc", id="svc-1", tags=("v1",), meta={"version": "1.2"}, ttl=0.3)
    async with ConsulRegistrar(agent_of(fake_consul), options, "10.0.0.5:8080") as reg:
        services = await client.agent.services()
        assert services["svc-1"]["Service"] == "svc"
        assert (services["svc-1"]["Address"], services["svc-1"]["Port"]) == ("10.0.0.5", 8080)
        assert services["svc-1"]["Tags"] == ["v1"]
        assert services["svc-1"]["Meta"] == {"version": "1.2"}
        check = (await client.agent.checks())["service:svc-1"]
        assert (check["ServiceID"], check["Status"]) == ("svc-1", "passing")
        # Several TTLs pass: the heartbeat (every 0.1 s) keeps the check passing.
        await asyncio.sleep(1.0)
        assert (await client.agent.checks())["service:svc-1"]["Status"] == "passing"
        assert fake_consul.requests["PUT /v1/agent/check/pass/service:svc-1"] >= 5
        assert reg.registered
    assert await client.agent.services() == {}
    assert_no_tasks_left()


async def test_a_killed_process_leaves_the_healthy_set_then_the_agent(fake_consul: Any) -> None:
    url = f"consul://{fake_consul.address}/svc?ttl=0.4&deregister_after=0.5"
    async with registered_process(url, "10.0.0.7:9000") as process:
        healthy_only = ConsulInstancer(agent_of(fake_consul), WatchOptions("svc"))
        everything = ConsulInstancer(agent_of(fake_consul), WatchOptions("svc", passing=False))
        passing, present = healthy_only.subscribe(), everything.subscribe()
        assert await next_event(passing) == Event(["10.0.0.7:9000"])
        assert await next_event(present) == Event(["10.0.0.7:9000"])
        process.kill()  # SIGKILL: no deregistration, no more heartbeats
        await process.wait()
        # The TTL passes: critical, so out of the healthy set; then the agent reaps it.
        await event_where(passing, lambda e: e == Event([]))
        await event_where(present, lambda e: e == Event([]))
        assert fake_consul.services == {}
        await healthy_only.close()
        await everything.close()


@pytest.fixture
async def health_server() -> AsyncIterator[tuple[str, list[int]]]:
    """An HTTP server whose /health answers the status in the returned list."""
    status = [200]

    async def health(request: web.Request) -> web.Response:
        return web.Response(status=status[0], text="ok" if status[0] == 200 else "down")

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/health", status
    await runner.cleanup()


async def test_an_http_check_decides_health(
    fake_consul_class: Any, health_server: tuple[str, list[int]]
) -> None:
    url, status = health_server
    async with fake_consul_class(min_check_interval=0.05) as fake:
        options = RegisterOptions("svc", http_check=url, interval=0.1, check_timeout=1.0)
        watcher = ConsulInstancer(agent_of(fake), WatchOptions("svc"))
        subscription = watcher.subscribe()
        assert await next_event(subscription) == Event([])
        async with ConsulRegistrar(agent_of(fake), options, "127.0.0.1:9100") as reg:
            assert fake.checks[reg.check_id].http == url
            await event_where(subscription, lambda e: e == Event(["127.0.0.1:9100"]))
            status[0] = 500
            await event_where(subscription, lambda e: e == Event([]))
            status[0] = 200
            await event_where(subscription, lambda e: e == Event(["127.0.0.1:9100"]))
        await event_where(subscription, lambda e: e == Event([]))
        assert fake.services == {}
        await watcher.close()
    assert_no_tasks_left()


async def test_registers_again_when_the_agent_forgets_it(fake_consul: Any, client: Any) -> None:
    logger = Recorder()
    options = RegisterOptions("svc", id="svc-1", ttl=0.3)
    reg = ConsulRegistrar(
        agent_of(fake_consul), options, "10.0.0.5:8080", logger=logger, backoff=Backoff(0.02, 0.1)
    )
    await reg.register()
    await fake_consul.stop()
    await asyncio.sleep(0.3)  # heartbeats fail meanwhile, and are retried
    await fake_consul.start(reset=True)  # a new agent, which never heard of svc-1
    for _ in range(100):
        if "svc-1" in await client.agent.services():
            break
        await asyncio.sleep(0.05)
    assert (await client.agent.checks())["service:svc-1"]["Status"] == "passing"
    messages = [r["msg"] for r in logger.records]
    assert "consul heartbeat failed" in messages
    assert "consul lost the registration; registering again" in messages
    await reg.close()
    assert await client.agent.services() == {}
    assert_no_tasks_left()


async def test_acl_token_is_required_used_and_never_shown(fake_consul_class: Any) -> None:
    secret = "s3cret-acl-token"
    async with fake_consul_class(token=secret) as fake:
        anonymous = ConsulRegistrar(agent_of(fake), RegisterOptions("svc"), "10.0.0.5:80")
        # Final, so register_with_backoff gives up at once instead of retrying for ever.
        with pytest.raises(ConsulPermissionError, match="Permission denied") as refused:
            await asyncio.wait_for(register_with_backoff(anonymous), 20)
        assert is_final(refused.value) and isinstance(refused.value, PermissionDenied)
        await anonymous.close()
        assert not anonymous.registered and fake.services == {}

        logger = Recorder()
        wrong = ConsulRegistrar(
            agent_of(fake, token="wrong-s3cret"), RegisterOptions("svc"), "10.0.0.5:80"
        )
        with pytest.raises(ConsulAuthError, match="ACL not found") as not_found:
            await asyncio.wait_for(register_with_backoff(wrong), 20)
        assert is_final(not_found.value) and isinstance(not_found.value, Unauthenticated)
        await wrong.close()

        allowed = ConsulRegistrar.from_url(
            f"consul://{fake.address}/svc?ttl=1", "10.0.0.5:80", token=secret, logger=logger
        )
        async with allowed:
            assert list(fake.services) == ["svc-10.0.0.5-80"]
        assert fake.services == {}
        shown = repr(logger.records) + str(refused.value) + str(not_found.value)
        assert "s3cret" not in shown + repr(allowed.agent) + repr(wrong.agent)
    assert_no_tasks_left()


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (401, "ACL support disabled", ConsulAuthError),
        (403, "ACL not found", ConsulAuthError),
        (403, "Permission denied: token lacks permission 'service:write'", ConsulPermissionError),
        # Older agents answer ACL refusals as 500s that say so.
        (500, "rpc error making call: rpc error making call: ACL not found", ConsulAuthError),
        (500, "rpc error making call: Permission denied", ConsulPermissionError),
    ],
)
async def test_acl_refusals_are_final(
    fake_consul: Any, status: int, message: str, kind: type[ConsulError]
) -> None:
    fake_consul.fail_with(status, message)
    reg = ConsulRegistrar(agent_of(fake_consul), RegisterOptions("svc"), "10.0.0.5:80")
    try:
        with pytest.raises(kind) as refused:
            await asyncio.wait_for(register_with_backoff(reg), 20)
        assert is_final(refused.value)
    finally:
        await reg.close()


async def test_an_agent_without_a_leader_is_retried(fake_consul: Any) -> None:
    fake_consul.fail_with(500, "No cluster leader")
    logger = Recorder()
    reg = ConsulRegistrar(agent_of(fake_consul), RegisterOptions("svc"), "10.0.0.5:80")
    registering = asyncio.ensure_future(
        register_with_backoff(reg, backoff=Backoff(base=0.01, cap=0.05), logger=logger)
    )
    try:
        while len(logger.records) < 2:
            assert not registering.done(), registering
            await asyncio.sleep(0.01)
        assert not is_final(logger.records[0]["err"])
        fake_consul.stop_failing()
        await asyncio.wait_for(registering, 20)
        assert reg.registered
    finally:
        registering.cancel()
        await reg.close()


async def test_register_fails_clearly_when_the_agent_is_unreachable(fake_consul: Any) -> None:
    await fake_consul.stop()
    reg = ConsulRegistrar(agent_of(fake_consul), RegisterOptions("svc"), "10.0.0.5:80")
    with pytest.raises(ConsulError, match=f"consul agent {fake_consul.address}: registering"):
        await reg.register()
    await reg.close()
    assert not reg.registered
    assert_no_tasks_left()


@pytest.fixture
def only_consul() -> Iterator[None]:
    reset(load(entry_points=False, extra=[("kit-consul", kit_consul.plugin)]))
    yield
    reset()


async def test_opened_by_url_through_the_plugin(
    only_consul: None, fake_consul: Any, client: Any
) -> None:
    url = f"consul://{fake_consul.address}/svc?ttl=2s&tag=v1"
    watcher = instancer(url, wait=5)
    assert isinstance(watcher, ConsulInstancer) and watcher.watch.tags == ("v1",)
    subscription = watcher.subscribe()
    assert await next_event(subscription) == Event([])
    reg = registrar(url, "127.0.0.1:9000")
    assert isinstance(reg, ConsulRegistrar) and reg.registration.tags == ("v1",)
    async with reg:
        assert await next_event(subscription) == Event(["127.0.0.1:9000"])
    assert await next_event(subscription) == Event([])
    await watcher.close()


def test_the_distribution_publishes_its_kit_entry_point() -> None:
    points = importlib.metadata.entry_points(group="kit")
    assert [p.value for p in points if p.name == "kit-consul"] == ["kit_consul.plugin"]
