"""ConsulInstancer against the fake Consul agent, through the real py-consul client.

Besides the contract (the core's conformance suite) these show the properties Go kit's
Consul instancer once lacked: no busy loop after a change (go-kit/kit#1214), on errors,
or on a stale, backwards or zero index.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from kit_consul import (
    AgentOptions,
    ConsulAuthError,
    ConsulError,
    ConsulInstancer,
    ConsulPermissionError,
    WatchOptions,
)
from kit_consul.testing import ConsulDriver

from kitcore.backoff import Backoff
from kitcore.sd import Event, is_final
from kitcore.testing.sd import check_instancer, event_where

HEALTH = "GET /v1/health/service/svc"


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
async def driver(fake_consul: Any) -> AsyncIterator[ConsulDriver]:
    made = ConsulDriver(
        agent_of(fake_consul), "svc", break_=fake_consul.stop, restore=fake_consul.start
    )
    yield made
    await made.close()


async def next_event(subscription: AsyncIterator[Event], timeout: float = 5.0) -> Event:
    """The next event, failing the test after ``timeout`` seconds."""
    return await asyncio.wait_for(anext(subscription), timeout)


def assert_no_tasks_left() -> None:
    """No watch or heartbeat task of kit-consul is still running.

    The fake agent serves from the test's own loop, so its server-side tasks (a blocking
    query the closed client walked away from) may still be there; kit-consul's tasks are
    the named ones.
    """
    left = [t for t in asyncio.all_tasks() if t.get_name().startswith("Consul")]
    assert left == []


async def test_conformance_against_the_fake_agent(fake_consul: Any, driver: ConsulDriver) -> None:
    agent = agent_of(fake_consul)
    await check_instancer(
        lambda: ConsulInstancer(agent, WatchOptions("svc"), backoff=Backoff(0.02, 0.2)), driver
    )
    assert_no_tasks_left()


async def test_instances_filtered_by_health_and_tags(
    fake_consul: Any, driver: ConsulDriver
) -> None:
    client = driver._ensure_client()
    await client.agent.service.register("svc", service_id="plain", port=7000)  # node address
    await client.agent.service.register(
        "svc", service_id="v2", address="10.0.0.2", port=8000, tags=["v2"]
    )
    await client.agent.service.register(
        "svc", service_id="sick", address="10.0.0.3", port=8000, check={"TTL": "30s"}
    )
    expectations = [
        (WatchOptions("svc"), ["127.0.0.1:7000", "10.0.0.2:8000"]),
        (WatchOptions("svc", passing=False), ["127.0.0.1:7000", "10.0.0.2:8000", "10.0.0.3:8000"]),
        (WatchOptions("svc", tags=("v2",)), ["10.0.0.2:8000"]),
    ]
    for watch, expected in expectations:
        watcher = ConsulInstancer(agent_of(fake_consul), watch)
        assert await next_event(watcher.subscribe()) == Event(expected)
        await watcher.close()
    # A check turning critical takes the instance out of the healthy set, and back.
    watcher = ConsulInstancer(agent_of(fake_consul), WatchOptions("svc", tags=("v2",)))
    subscription = watcher.subscribe()
    assert await next_event(subscription) == Event(["10.0.0.2:8000"])
    await client.agent.check.register("v2 probe", check={"TTL": "30s"}, service_id="v2")
    assert await next_event(subscription) == Event([])
    await client.agent.check.ttl_pass("v2 probe")
    assert await next_event(subscription) == Event(["10.0.0.2:8000"])
    await watcher.close()
    assert_no_tasks_left()


async def test_changes_do_not_make_the_watch_spin(fake_consul: Any, driver: ConsulDriver) -> None:
    # go-kit/kit#1214: an index never updated made every blocking query return at once.
    watcher = ConsulInstancer(agent_of(fake_consul), WatchOptions("svc", wait=30))
    subscription = watcher.subscribe()
    assert await next_event(subscription) == Event([])
    changes = [f"10.0.0.{n}:80" for n in range(1, 6)]
    for n, instance in enumerate(changes, start=1):
        await driver.add(instance)
        await event_where(subscription, lambda e, n=n: len(e.instances) == n)  # type: ignore[misc]
    before = fake_consul.requests[HEALTH]
    await asyncio.sleep(0.5)
    # Idle now: at most the one blocking query issued after the last change.
    assert fake_consul.requests[HEALTH] - before <= 1
    # One initial query, then one per change (plus the one blocked now).
    assert fake_consul.requests[HEALTH] <= len(changes) + 2
    session = watcher._client.http._session
    await watcher.close()
    assert session.closed and watcher._client is None
    assert_no_tasks_left()


async def test_errors_back_off_and_keep_the_last_good_set(
    fake_consul: Any, driver: ConsulDriver
) -> None:
    await driver.add("10.0.0.1:80")
    logger = Recorder()
    watcher = ConsulInstancer(agent_of(fake_consul), WatchOptions("svc", wait=30), logger=logger)
    subscription = watcher.subscribe()
    assert await next_event(subscription) == Event(["10.0.0.1:80"])
    fake_consul.fail_with(500, "No cluster leader")
    failed = await event_where(subscription, lambda e: e.error is not None)
    assert failed.instances == ("10.0.0.1:80",)
    assert isinstance(failed.error, ConsulError) and "500 No cluster leader" in str(failed.error)
    before = fake_consul.requests[HEALTH]
    await asyncio.sleep(1.0)
    # Jittered exponential backoff from 50 ms: a handful of retries, not thousands.
    assert fake_consul.requests[HEALTH] - before <= 15
    fake_consul.stop_failing()
    await driver.add("10.0.0.2:80")
    await event_where(subscription, lambda e: e == Event(["10.0.0.1:80", "10.0.0.2:80"]))
    assert any(r.get("msg") == "consul watch failed" for r in logger.records)
    await watcher.close()
    assert_no_tasks_left()


async def test_a_backwards_index_restarts_the_loop_without_spinning(
    fake_consul: Any, driver: ConsulDriver
) -> None:
    logger = Recorder()
    watcher = ConsulInstancer(agent_of(fake_consul), WatchOptions("svc", wait=0.2), logger=logger)
    subscription = watcher.subscribe()
    assert await next_event(subscription) == Event([])
    await driver.add("10.0.0.1:80")
    assert await next_event(subscription) == Event(["10.0.0.1:80"])
    # As after a snapshot restore: the index the watch holds is now in the future.
    fake_consul.set_index(3)
    await asyncio.sleep(0.6)
    assert any(r.get("reason") == "index went backwards" for r in logger.records)
    before = fake_consul.requests[HEALTH]
    await asyncio.sleep(0.6)
    assert fake_consul.requests[HEALTH] - before <= 8  # one per wait of 0.2 s, not a spin
    await driver.add("10.0.0.2:80")  # the restarted loop still sees changes at once
    await event_where(subscription, lambda e: e == Event(["10.0.0.1:80", "10.0.0.2:80"]))
    await watcher.close()


@pytest.mark.parametrize("index", ["0", "42"])
async def test_an_agent_answering_at_once_with_a_stuck_index_cannot_cause_a_busy_loop(
    index: str,
) -> None:
    # A broken agent: ignores index and wait and always answers at once with the same
    # X-Consul-Index ("0": the bug Consul's docs warn about; "42": an index that never moves).
    served = 0

    async def health(request: web.Request) -> web.Response:
        nonlocal served
        served += 1
        body = [{"Node": {"Address": "10.0.0.1"}, "Service": {"Address": "", "Port": 80}}]
        return web.json_response(body, headers={"X-Consul-Index": index})

    app = web.Application()
    app.router.add_get("/v1/health/service/{name}", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        logger = Recorder()
        watcher = ConsulInstancer(
            AgentOptions(host="127.0.0.1", port=port), WatchOptions("svc"), logger=logger
        )
        assert await next_event(watcher.subscribe()) == Event(["10.0.0.1:80"])
        await asyncio.sleep(1.0)
        await watcher.close()
        # Without the anomaly backoff this is thousands of requests a second.
        assert served <= 15, served
        assert any("anomaly" in str(r.get("msg")) for r in logger.records)
    finally:
        await runner.cleanup()
    assert_no_tasks_left()


async def test_an_agent_restart_with_lost_state_delivers_the_new_state(
    fake_consul: Any, driver: ConsulDriver
) -> None:
    await driver.add("10.0.0.1:80")
    watcher = ConsulInstancer(
        agent_of(fake_consul), WatchOptions("svc"), backoff=Backoff(0.02, 0.2)
    )
    subscription = watcher.subscribe()
    assert await next_event(subscription) == Event(["10.0.0.1:80"])
    await fake_consul.stop()
    down = await event_where(subscription, lambda e: e.error is not None)
    assert down.instances == ("10.0.0.1:80",)
    await fake_consul.start(reset=True)  # a new agent: nothing registered, index restarted
    await event_where(subscription, lambda e: e == Event([]))
    await driver.add("10.0.0.3:80")
    await event_where(subscription, lambda e: e == Event(["10.0.0.3:80"]))
    await watcher.close()
    assert_no_tasks_left()


async def test_acl_token_is_used_and_never_shown(fake_consul_class: Any) -> None:
    async with fake_consul_class(token="s3cret-acl-token") as fake:
        good = ConsulDriver(agent_of(fake, token="s3cret-acl-token"), "svc")
        await good.add("10.0.0.1:80")
        await good.close()
        allowed = ConsulInstancer(agent_of(fake, token="s3cret-acl-token"), WatchOptions("svc"))
        assert await next_event(allowed.subscribe()) == Event(["10.0.0.1:80"])
        await allowed.close()

        logger = Recorder()
        wrong = ConsulInstancer(
            agent_of(fake, token="wrong-s3cret"), WatchOptions("svc"), logger=logger
        )
        refused = await next_event(wrong.subscribe())
        assert isinstance(refused.error, ConsulAuthError) and "ACL not found" in str(refused.error)
        assert is_final(refused.error)  # a gateway following it exits rather than wait
        await wrong.close()
        shown = repr(logger.records) + repr(refused.error) + str(wrong.agent)
        assert "s3cret" not in shown
    assert_no_tasks_left()


async def test_a_denied_watch_is_a_final_error_and_an_outage_is_not(fake_consul: Any) -> None:
    watcher = ConsulInstancer(agent_of(fake_consul), WatchOptions("svc"))
    fake_consul.fail_with(403, "Permission denied: token lacks permission 'service:read'")
    subscription = watcher.subscribe()
    denied = await next_event(subscription)
    assert isinstance(denied.error, ConsulPermissionError) and is_final(denied.error)
    fake_consul.fail_with(500, "No cluster leader")
    down = await event_where(subscription, lambda e: not isinstance(e.error, ConsulPermissionError))
    assert isinstance(down.error, ConsulError) and not is_final(down.error)
    await watcher.close()
    assert_no_tasks_left()


async def test_close_before_any_subscriber_and_twice(fake_consul: Any) -> None:
    watcher = ConsulInstancer(agent_of(fake_consul), WatchOptions("svc"))
    await watcher.close()
    await watcher.close()
    ended = [event async for event in watcher.subscribe()]
    assert ended == []
    assert fake_consul.requests[HEALTH] == 0
