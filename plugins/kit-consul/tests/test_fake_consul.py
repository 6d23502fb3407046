"""The fake Consul agent, driven through the real py-consul client as kit-consul will be."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import consul  # type: ignore[import-untyped]
import consul.aio  # type: ignore[import-untyped]
import pytest
from aiohttp import web


@pytest.fixture
async def client(fake_consul: Any) -> AsyncIterator[consul.aio.Consul]:
    """A py-consul asyncio client for the fake agent."""
    c = consul.aio.Consul(host=fake_consul.host, port=fake_consul.port)
    yield c
    await c.close()


def ids(entries: list[dict[str, Any]]) -> list[str]:
    """Service IDs of health entries."""
    return [e["Service"]["ID"] for e in entries]


async def register(c: consul.aio.Consul, sid: str, **kw: Any) -> None:
    kw.setdefault("address", "127.0.0.1")
    kw.setdefault("port", 8000)
    assert await c.agent.service.register("web", service_id=sid, **kw)


async def test_register_and_deregister_show_in_agent_catalog_and_health(
    client: consul.aio.Consul,
) -> None:
    check, extra = consul.Check.ttl("10s"), consul.Check.ttl("10s")
    await register(
        client,
        "web1",
        port=8001,
        tags=["v1"],
        meta={"zone": "a"},
        check=check,
        extra_checks=[extra],
    )
    services = await client.agent.services()
    assert services["web1"]["Service"] == "web" and services["web1"]["Port"] == 8001
    assert sorted(await client.agent.checks()) == ["service:web1:1", "service:web1:2"]

    _, catalog = await client.catalog.service("web")
    assert [(e["ServiceID"], e["ServiceAddress"], e["ServicePort"]) for e in catalog] == [
        ("web1", "127.0.0.1", 8001)
    ]
    assert catalog[0]["ServiceTags"] == ["v1"] and catalog[0]["ServiceMeta"] == {"zone": "a"}
    _, listing = await client.catalog.services()
    assert listing == {"consul": [], "web": ["v1"]}

    _, health = await client.health.service("web")
    (entry,) = health
    assert entry["Node"]["Node"] == "fake-consul"
    assert entry["Service"]["Meta"] == {"zone": "a"}
    assert [(c["CheckID"], c["Status"]) for c in entry["Checks"]] == [
        ("serfHealth", "passing"),
        ("service:web1:1", "critical"),  # a new check is critical until it first passes
        ("service:web1:2", "critical"),
    ]

    assert await client.agent.service.deregister("web1")
    assert await client.agent.service.deregister("web1") is False  # 404: unknown ID
    assert (await client.health.service("web"))[1] == []
    assert await client.agent.checks() == {}


async def test_passing_filter_and_tags_select_instances(client: consul.aio.Consul) -> None:
    for sid, tags in (("web1", ["v1", "blue"]), ("web2", ["v2"]), ("web3", ["v1"])):
        await register(client, sid, tags=tags, check=consul.Check.ttl("10s"))
    assert await client.agent.check.ttl_pass("service:web1")
    assert await client.agent.check.ttl_warn("service:web3", notes="slow")
    # web2 never passed: critical.

    assert ids((await client.health.service("web"))[1]) == ["web1", "web2", "web3"]
    assert ids((await client.health.service("web", passing=True))[1]) == ["web1"]
    assert ids((await client.health.service("web", tag="v1"))[1]) == ["web1", "web3"]
    assert ids((await client.health.service("web", tag=["v1", "BLUE"]))[1]) == ["web1"]
    assert ids((await client.health.service("web", tag=["v1", "v2"]))[1]) == []
    _, catalog = await client.catalog.service("web", tag="v2")
    assert [e["ServiceID"] for e in catalog] == ["web2"]
    _, health = await client.health.service("web", tag="v2")
    assert health[0]["Checks"][1]["Output"] == ""
    _, health = await client.health.service("web", tag="v1")
    assert [c["Output"] for c in health[1]["Checks"]] == ["Agent alive and reachable", "slow"]


async def test_reregistering_the_same_definition_does_not_move_the_index(
    client: consul.aio.Consul,
) -> None:
    await register(client, "web1", tags=["v1"])
    index, _ = await client.health.service("web")
    await register(client, "web1", tags=["v1"])  # what a registrar's refresh does
    assert (await client.health.service("web"))[0] == index
    await register(client, "web1", tags=["v2"])
    assert int((await client.health.service("web"))[0]) > int(index)


async def test_blocking_query_returns_when_the_service_changes(client: consul.aio.Consul) -> None:
    await register(client, "web1")
    index, _ = await client.health.service("web")
    waiting = asyncio.ensure_future(client.health.service("web", index=index, wait="10s"))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # blocked on the index
    await register(client, "web2")
    new_index, entries = await asyncio.wait_for(waiting, 5)
    assert int(new_index) > int(index)
    assert ids(entries) == ["web1", "web2"]


async def test_blocking_query_times_out_with_the_same_index(client: consul.aio.Consul) -> None:
    await register(client, "web1")
    index, entries = await client.health.service("web")
    again, same = await client.health.service("web", index=index, wait="100ms")
    assert (again, same) == (index, entries)
    index, listing = await client.catalog.services()
    assert await client.catalog.services(index=index, wait="100ms") == (index, listing)


async def test_an_index_reset_comes_back_smaller_and_zero_or_stale_answer_at_once(
    fake_consul: Any, client: consul.aio.Consul
) -> None:
    for sid in ("web1", "web2", "web3"):
        await register(client, sid)
    held, _ = await client.health.service("web")
    # The agent restarts empty: its index starts over, below what the client holds.
    await fake_consul.stop()
    await fake_consul.start(reset=True)
    await register(client, "web1")
    # Consul blocks on an index above its own until the wait passes, then returns its
    # smaller index: the client's cue to reset.
    index, entries = await client.health.service("web", index=held, wait="100ms")
    assert 0 < int(index) < int(held)
    assert ids(entries) == ["web1"]
    # A stale (lower) index, or none, answers at once even with a long wait.
    stale = await asyncio.wait_for(client.health.service("web", index=1, wait="10m"), 5)
    assert stale == (index, entries)
    assert await asyncio.wait_for(client.health.service("web", index=0, wait="10m"), 5) == stale


async def test_ttl_expiry_turns_the_check_critical_and_deregister_after_removes_it(
    client: consul.aio.Consul,
) -> None:
    check = {"TTL": "200ms", "DeregisterCriticalServiceAfter": "300ms"}
    await register(client, "web1", check=check)
    assert await client.agent.check.ttl_pass("service:web1", notes="alive")
    index, entries = await client.health.service("web", passing=True)
    assert ids(entries) == ["web1"]
    # Not renewed: the TTL passes and the check turns critical.
    index, entries = await client.health.service("web", index=index, wait="5s")
    assert [(c["Status"], c["Output"]) for c in entries[0]["Checks"][1:]] == [
        ("critical", "TTL expired")
    ]
    # Critical for 300 ms: the agent deregisters the service.
    index, entries = await client.health.service("web", index=index, wait="5s")
    assert entries == []
    assert await client.agent.services() == {}


async def test_check_update_and_fail_set_status_and_output(
    fake_consul: Any, client: consul.aio.Consul
) -> None:
    await register(client, "web1", check=consul.Check.ttl("10s"))
    assert await client.agent.check.ttl_fail("service:web1", notes="db down")
    async with aiohttp.ClientSession() as http:
        url = f"{fake_consul.url}/v1/agent/check/update/service:web1"
        async with http.put(url, json={"Status": "warning", "Output": "degraded"}) as response:
            assert response.status == 200
        async with http.put(url, json={"Status": "sleeping"}) as response:
            assert response.status == 400
    check = (await client.agent.checks())["service:web1"]
    assert (check["Status"], check["Output"]) == ("warning", "degraded")
    assert await client.agent.check.ttl_pass("web1") is False  # 404: a name is not an ID


async def test_http_checks_are_polled_for_real(fake_consul_class: Any) -> None:
    state = {"status": 200}

    async def health(request: web.Request) -> web.Response:
        return web.Response(status=state["status"], text="ok" if state["status"] == 200 else "no")

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with fake_consul_class(min_check_interval=0.05) as fake:
            c = consul.aio.Consul(host=fake.host, port=fake.port)
            try:
                check = consul.Check.http(f"http://127.0.0.1:{port}/health", "50ms")
                await register(c, "web1", check=check)
                index, entries = await c.health.service("web", passing=True)
                while not entries:
                    index, entries = await c.health.service("web", passing=True, index=index)
                output = entries[0]["Checks"][1]["Output"]
                assert output == f"HTTP GET http://127.0.0.1:{port}/health: 200 OK Output: ok"
                state["status"] = 503
                while entries:
                    index, entries = await c.health.service("web", passing=True, index=index)
                _, entries = await c.health.service("web")
                assert entries[0]["Checks"][1]["Status"] == "critical"
                assert "503 Service Unavailable Output: no" in entries[0]["Checks"][1]["Output"]
            finally:
                await c.close()
    finally:
        await runner.cleanup()


async def test_acl_token_is_required_to_write_and_filters_reads(fake_consul_class: Any) -> None:
    async with fake_consul_class(token="s3cret") as fake:
        clients = {
            name: consul.aio.Consul(host=fake.host, port=fake.port, token=token)
            for name, token in (("owner", "s3cret"), ("anonymous", None), ("stranger", "nope"))
        }
        try:
            await register(clients["owner"], "web1", check=consul.Check.ttl("10s"))
            with pytest.raises(consul.ACLPermissionDenied, match="Permission denied"):
                await register(clients["anonymous"], "web2")
            with pytest.raises(consul.ACLPermissionDenied, match="ACL not found"):
                await register(clients["stranger"], "web2")
            with pytest.raises(consul.ACLPermissionDenied, match="ACL not found"):
                await clients["stranger"].health.service("web")
            # Anonymous reads succeed, with what the token may not see filtered out.
            assert (await clients["anonymous"].health.service("web"))[1] == []
            assert ids((await clients["owner"].health.service("web"))[1]) == ["web1"]
            async with aiohttp.ClientSession() as http:
                url = f"{fake.url}/v1/health/service/web"
                async with http.get(url) as response:
                    assert response.headers["X-Consul-Results-Filtered-By-ACLs"] == "true"
                async with http.get(url, params={"token": "s3cret"}) as response:
                    assert len(await response.json()) == 1
        finally:
            for c in clients.values():
                await c.close()


async def test_fault_hooks_errors_restart_and_request_count(
    fake_consul: Any, client: consul.aio.Consul
) -> None:
    await register(client, "web1")
    fake_consul.fail_with(500)
    with pytest.raises(consul.ConsulException, match="500 No cluster leader"):
        await client.health.service("web")
    fake_consul.stop_failing()
    index, _ = await client.health.service("web")

    # A blocking query in flight when the agent goes away is cut, and so are new ones.
    waiting = asyncio.ensure_future(client.health.service("web", index=index, wait="10s"))
    await asyncio.sleep(0.05)
    port = fake_consul.port
    await fake_consul.stop()
    with pytest.raises(aiohttp.ClientError):
        await asyncio.wait_for(waiting, 5)
    with pytest.raises(aiohttp.ClientError):
        await client.health.service("web")
    await fake_consul.start()
    assert fake_consul.port == port
    assert ids((await client.health.service("web"))[1]) == ["web1"]  # state kept

    served = fake_consul.requests_served
    await client.health.service("web")
    assert fake_consul.requests_served == served + 1
    assert fake_consul.requests["GET /v1/health/service/web"] == 5
