"""ZooKeeperInstancer against a real ZooKeeper: the suite, child watches, faults, threads."""

from __future__ import annotations

import asyncio
import threading

from kazoo.client import KazooClient
from kit_zookeeper_testlib import (
    Recorder,
    ZkDriver,
    direct_client,
    instancer,
    stop_client,
    threads_back_to,
)

from kitcore.sd import Event
from kitcore.testing.sd import check_instancer
from kitcore.testing.sd import event_where as next_event
from kitcore.testing.sd import has_instances as instances
from kitcore.testing.sd import is_error as failing
from kitcore.testing.servers import ZooKeeperServer
from kitcore.testing.services import free_port


async def test_passes_the_instancer_suite_with_zookeeper_stopped_and_started(
    own_zk: ZooKeeperServer, path: str
) -> None:
    driver = ZkDriver(own_zk, path)
    try:
        url = f"zk://{own_zk.hosts}{path}"
        await check_instancer(lambda: instancer(url), driver, timeout=10)
    finally:
        driver.close()


async def test_reports_child_data_and_ignores_what_is_not_an_address(
    shared_zk: ZooKeeperServer, path: str
) -> None:
    zk = direct_client(shared_zk.hosts)
    watcher = instancer(f"zk://{shared_zk.hosts}{path}")
    try:
        zk.create(f"{path}/a", b"10.0.0.1:80", makepath=True)
        zk.create(f"{path}/b", b" 10.0.0.2:80\n")  # trimmed
        zk.create(f"{path}/empty", b"")  # no address: not an instance
        zk.create(f"{path}/bin", b"\xff\xfe")  # not text: skipped
        zk.create(f"{path}2/c", b"10.0.0.3:80", makepath=True)  # a sibling path
        zk.set(path, b"10.0.0.4:80")  # the path's own data is not an instance
        subscription = watcher.subscribe()
        await next_event(subscription, instances("10.0.0.1:80", "10.0.0.2:80"))
        zk.create(f"{path}/d", b"10.0.0.5:80")
        await next_event(subscription, instances("10.0.0.1:80", "10.0.0.2:80", "10.0.0.5:80"))
    finally:
        await watcher.close()
        stop_client(zk)


async def test_a_missing_path_is_no_instances_until_it_is_created(
    shared_zk: ZooKeeperServer, path: str
) -> None:
    zk = direct_client(shared_zk.hosts)
    watcher = instancer(f"zk://{shared_zk.hosts}{path}")
    try:
        subscription = watcher.subscribe()
        await next_event(subscription, instances())
        zk.create(f"{path}/a", b"10.0.0.1:80", makepath=True)  # creates the path too
        await next_event(subscription, instances("10.0.0.1:80"))
        zk.delete(path, recursive=True)
        await next_event(subscription, instances())
        zk.create(f"{path}/b", b"10.0.0.2:80", makepath=True)
        await next_event(subscription, instances("10.0.0.2:80"))
    finally:
        await watcher.close()
        stop_client(zk)


async def test_nodes_deleted_behind_its_back_leave_the_set(
    shared_zk: ZooKeeperServer, path: str
) -> None:
    zk = direct_client(shared_zk.hosts)
    watcher = instancer(f"zk://{shared_zk.hosts}{path}")
    try:
        for n in range(3):
            zk.create(f"{path}/i", f"10.0.0.{n}:80".encode(), sequence=True, makepath=True)
        subscription = watcher.subscribe()
        await next_event(subscription, lambda e: len(e.instances) == 3)
        for child in zk.get_children(path):
            zk.delete(f"{path}/{child}")
        await next_event(subscription, instances())
    finally:
        await watcher.close()
        stop_client(zk)


async def test_an_expired_session_is_an_error_event_then_the_watch_comes_back(
    shared_zk: ZooKeeperServer, path: str
) -> None:
    zk = direct_client(shared_zk.hosts)
    watcher = instancer(f"zk://{shared_zk.hosts}{path}?session_timeout=1")
    try:
        zk.create(f"{path}/a", b"10.0.0.1:80", makepath=True)
        subscription = watcher.subscribe()
        await next_event(subscription, instances("10.0.0.1:80"))
        assert watcher.session is not None
        expire(shared_zk, watcher.session.client)
        event = await next_event(subscription, failing)
        assert event.instances == ("10.0.0.1:80",)
        await next_event(subscription, instances("10.0.0.1:80"))
        # The new session watches again: changes arrive.
        zk.create(f"{path}/b", b"10.0.0.2:80")
        await next_event(subscription, instances("10.0.0.1:80", "10.0.0.2:80"))
    finally:
        await watcher.close()
        stop_client(zk)


def expire(server: ZooKeeperServer, client: KazooClient) -> None:
    """Expire ``client``'s session for real: close it from a second client that joins it."""
    session_id, password = client.client_id
    thief = KazooClient(hosts=server.hosts, client_id=(session_id, password))
    thief.start(timeout=10)
    stop_client(thief)  # closing the session ends it for both


async def test_an_unreachable_zookeeper_gives_an_error_event_then_the_set(
    own_zk: ZooKeeperServer, path: str
) -> None:
    zk = direct_client(own_zk.hosts)
    zk.create(f"{path}/a", b"10.0.0.1:80", makepath=True)
    stop_client(zk)
    own_zk.stop()
    logger = Recorder()
    watcher = instancer(f"zk://{own_zk.hosts}{path}?connect_timeout=0.2", logger=logger)
    try:
        subscription = watcher.subscribe()
        event = await next_event(subscription, failing)
        assert event.instances == ()
        assert "cannot reach ZooKeeper" in str(event.error)
        own_zk.start()
        await next_event(subscription, instances("10.0.0.1:80"), timeout=10)
    finally:
        await watcher.close()


async def test_a_dead_host_in_the_list_is_skipped(shared_zk: ZooKeeperServer, path: str) -> None:
    zk = direct_client(shared_zk.hosts)
    zk.create(f"{path}/a", b"10.0.0.1:80", makepath=True)
    stop_client(zk)
    watcher = instancer(f"zk://127.0.0.1:{free_port()},{shared_zk.hosts}{path}")
    try:
        await next_event(watcher.subscribe(), instances("10.0.0.1:80"))
    finally:
        await watcher.close()


async def test_close_stops_the_kazoo_client_and_every_thread_it_started(
    shared_zk: ZooKeeperServer, path: str
) -> None:
    before = set(threading.enumerate())
    watcher = instancer(f"zk://{shared_zk.hosts}{path}")
    subscription = watcher.subscribe()
    await next_event(subscription, instances())
    assert len(set(threading.enumerate()) - before) >= 3  # kazoo: connection and 2 workers
    assert watcher.session is not None
    client = watcher.session.client
    await watcher.close()
    assert set(threading.enumerate()) - before == set()  # right away, not eventually
    assert await threads_back_to(before) == []
    assert not client.connected
    assert [e async for e in subscription] == []


async def test_many_children_are_read_in_one_go(shared_zk: ZooKeeperServer, path: str) -> None:
    zk = direct_client(shared_zk.hosts)
    watcher = instancer(f"zk://{shared_zk.hosts}{path}")
    try:
        zk.ensure_path(path)
        transaction = zk.transaction()
        for n in range(200):
            transaction.create(f"{path}/i{n:03}", f"10.0.{n // 250}.{n % 250}:80".encode())
        transaction.commit()
        event = await next_event(watcher.subscribe(), lambda e: len(e.instances) == 200)
        assert event.error is None
    finally:
        await watcher.close()
        stop_client(zk)


async def test_closing_right_after_subscribing_leaves_nothing_running(
    shared_zk: ZooKeeperServer, path: str
) -> None:
    before = set(threading.enumerate())
    for pause in (0.0, 0.001, 0.01):
        watcher = instancer(f"zk://{shared_zk.hosts}{path}")
        subscription = watcher.subscribe()
        await asyncio.sleep(pause)  # close overtakes the start at different points
        await watcher.close()
        # The subscription ends (after the first listing, if that was quicker than close).
        assert [e async for e in subscription] in ([], [Event(())])
    assert await threads_back_to(before) == []
