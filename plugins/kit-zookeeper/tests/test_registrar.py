"""ZooKeeperRegistrar against a real ZooKeeper: the suite, ephemeral nodes, session loss."""

from __future__ import annotations

import asyncio
import re

import pytest
from kazoo.client import KazooClient
from kit_zookeeper import ZooKeeperRegistrar
from kit_zookeeper_testlib import Recorder, config, direct_client, instancer, stop_client

from kitcore.testing.sd import check_registrar, registered_process
from kitcore.testing.sd import event_where as next_event
from kitcore.testing.sd import has_instances as instances
from kitcore.testing.servers import ZooKeeperServer
from kitcore.testing.services import free_port


def registrar(url: str, instance: str, **options: object) -> ZooKeeperRegistrar:
    """A registrar with the tests' fast backoff."""
    logger = options.pop("logger", None)
    return ZooKeeperRegistrar(config(url, **options), instance, logger=logger)


def registered(zk: KazooClient, path: str) -> dict[str, str]:
    """Child name -> data under ``path``."""
    if not zk.exists(path):
        return {}
    return {name: zk.get(f"{path}/{name}")[0].decode() for name in zk.get_children(path)}


def expire(server: ZooKeeperServer, client: KazooClient) -> None:
    """Expire ``client``'s session for real: close it from a second client that joins it."""
    thief = KazooClient(hosts=server.hosts, client_id=client.client_id)
    thief.start(timeout=10)
    stop_client(thief)


async def test_passes_the_registrar_suite(shared_zk: ZooKeeperServer, path: str) -> None:
    zk = direct_client(shared_zk.hosts)
    url = f"zk://{shared_zk.hosts}{path}"

    async def snapshot() -> set[str]:
        return set(registered(zk, path).values())

    try:
        await check_registrar(lambda instance: registrar(url, instance), snapshot)
    finally:
        stop_client(zk)


async def test_the_node_is_ephemeral_sequential_and_protected(
    shared_zk: ZooKeeperServer, path: str
) -> None:
    zk = direct_client(shared_zk.hosts)
    try:
        async with registrar(f"zk://{shared_zk.hosts}{path}", "10.0.0.1:80") as reg:
            assert reg.node is not None and reg.session is not None
            name = reg.node.rsplit("/", 1)[1]
            assert re.fullmatch(r"_c_[0-9a-f]{32}-instance\d{10}", name)
            data, stat = zk.get(reg.node)
            assert data == b"10.0.0.1:80"
            assert stat.ephemeralOwner == reg.session.client.client_id[0]
            await reg.register()  # again: still one node, the same one
            assert list(registered(zk, path)) == [name]
    finally:
        stop_client(zk)


async def test_a_create_whose_reply_was_lost_is_not_repeated(
    shared_zk: ZooKeeperServer, path: str
) -> None:
    zk = direct_client(shared_zk.hosts)
    reg = registrar(f"zk://{shared_zk.hosts}{path}", "10.0.0.1:80")
    try:
        # What a create that reached the server, but whose reply did not come back, leaves.
        made = zk.create(f"{path}/{reg._prefix}", b"10.0.0.1:80", sequence=True, makepath=True)
        await reg.register()
        assert reg.node == made
        assert len(registered(zk, path)) == 1
        await reg.deregister()
        assert registered(zk, path) == {}
    finally:
        await reg.close()
        stop_client(zk)


async def test_an_expired_session_gets_its_node_back(shared_zk: ZooKeeperServer, path: str) -> None:
    url = f"zk://{shared_zk.hosts}{path}"
    logger = Recorder()
    reg = registrar(url, "10.0.0.1:80", session_timeout=1, logger=logger)
    watcher = instancer(url)
    try:
        await reg.register()
        first = reg.node
        subscription = watcher.subscribe()
        await next_event(subscription, instances("10.0.0.1:80"))
        assert reg.session is not None
        expire(shared_zk, reg.session.client)
        await next_event(subscription, instances())  # ZooKeeper deleted the ephemeral node
        await next_event(subscription, instances("10.0.0.1:80"))  # made again
        # The watch can fire before the create's reply reaches the registrar: allow for it.
        for _ in range(100):
            if reg.node not in (None, first):
                break
            await asyncio.sleep(0.01)
        assert reg.node not in (None, first)
        assert "zookeeper session expired, registered again" in [r["msg"] for r in logger.records]
    finally:
        await reg.close()
        await watcher.close()


async def test_a_zookeeper_restart_keeps_the_instance_registered(
    own_zk: ZooKeeperServer, path: str
) -> None:
    url = f"zk://{own_zk.hosts}{path}"
    reg = registrar(url, "10.0.0.1:80", session_timeout=1)
    watcher = instancer(url)
    try:
        await reg.register()
        own_zk.stop()
        await asyncio.sleep(1.2)
        own_zk.start()
        subscription = watcher.subscribe()
        await next_event(subscription, instances("10.0.0.1:80"), timeout=10)
        await reg.close()
        await next_event(subscription, instances())
    finally:
        await reg.close()
        await watcher.close()


async def test_a_killed_process_leaves_the_set_when_its_session_times_out(
    shared_zk: ZooKeeperServer, path: str
) -> None:
    url = f"zk://{shared_zk.hosts}{path}"
    watcher = instancer(url)
    try:
        async with registered_process(f"{url}?session_timeout=1", "10.0.0.7:80") as child:
            subscription = watcher.subscribe()
            await next_event(subscription, instances("10.0.0.7:80"))
            child.kill()  # SIGKILL: no deregistration, the session just falls silent
            await child.wait()
            await next_event(subscription, instances(), timeout=10)
    finally:
        await watcher.close()


async def test_register_fails_when_zookeeper_is_unreachable(path: str) -> None:
    reg = registrar(f"zk://127.0.0.1:{free_port()}{path}?connect_timeout=0.2", "10.0.0.1:80")
    with pytest.raises(ConnectionError, match="cannot reach ZooKeeper"):
        await reg.register()
    assert not reg.registered
    await reg.close()  # stops kazoo's reconnecting threads (checked by the leak fixture)


def test_an_instance_must_be_given() -> None:
    with pytest.raises(ValueError, match="host:port"):
        ZooKeeperRegistrar.from_url("zk://h:1/p", "")
