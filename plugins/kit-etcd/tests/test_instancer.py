"""EtcdInstancer against a real etcd: the conformance suite, the watch, faults, compaction."""

from __future__ import annotations

import asyncio
from typing import Any

from kit_etcd import EtcdInstancer
from kit_etcd_testlib import FAST, Etcd, EtcdDriver, Recorder, config, instancer

from kitcore.sd import Endpointer
from kitcore.testing.sd import check_instancer
from kitcore.testing.sd import event_where as next_event
from kitcore.testing.sd import has_instances as instances
from kitcore.testing.sd import is_error as failing
from kitcore.testing.servers import EtcdServer
from kitcore.testing.services import free_port


async def test_passes_the_instancer_suite_with_etcd_stopped_and_started(
    own_etcd: EtcdServer, prefix: str
) -> None:
    url = f"etcd://{own_etcd.url}{prefix}"
    await check_instancer(lambda: instancer(url), EtcdDriver(own_etcd, prefix))


async def test_reports_the_values_under_the_prefix_and_nothing_else(
    shared_etcd: EtcdServer, prefix: str
) -> None:
    etcd = Etcd(shared_etcd.host, shared_etcd.port)
    await etcd.put(f"{prefix}/a", "10.0.0.1:80")
    await etcd.put(f"{prefix}/b", " 10.0.0.2:80\n")  # values are trimmed
    await etcd.put(f"{prefix}/empty", "")  # no address: not an instance
    await etcd.put(f"{prefix}2/c", "10.0.0.3:80")  # a sibling prefix, not this service
    await etcd.put(prefix, "10.0.0.4:80")  # the prefix key itself is not under prefix/
    watcher = instancer(f"etcd://{shared_etcd.url}{prefix}")
    try:
        subscription = watcher.subscribe()
        await next_event(subscription, instances("10.0.0.1:80", "10.0.0.2:80"))
        async with etcd.client() as client:
            await client.put(f"{prefix}/bin".encode(), b"\xff\xfe")  # not text: skipped
            await client.put(f"{prefix}/d".encode(), b"10.0.0.5:80")
        await next_event(subscription, instances("10.0.0.1:80", "10.0.0.2:80", "10.0.0.5:80"))
    finally:
        await watcher.close()


async def test_keys_deleted_behind_its_back_leave_the_set(
    shared_etcd: EtcdServer, prefix: str
) -> None:
    etcd = Etcd(shared_etcd.host, shared_etcd.port)
    for n in range(3):
        await etcd.put(f"{prefix}/10.0.0.{n}:80", f"10.0.0.{n}:80")
    watcher = instancer(f"etcd://{shared_etcd.url}{prefix}")
    try:
        subscription = watcher.subscribe()
        await next_event(subscription, lambda e: len(e.instances) == 3)
        async with etcd.client() as client:
            await client.delete_prefix(f"{prefix}/".encode())
        await next_event(subscription, instances())
    finally:
        await watcher.close()


async def test_one_transaction_changing_many_keys_ends_in_one_state(
    shared_etcd: EtcdServer, prefix: str
) -> None:
    etcd = Etcd(shared_etcd.host, shared_etcd.port)
    watcher = instancer(f"etcd://{shared_etcd.url}{prefix}")
    try:
        subscription = watcher.subscribe()
        await next_event(subscription, instances())
        async with etcd.client() as client:
            puts = [
                client.transactions.put(f"{prefix}/{n}".encode(), f"10.0.1.{n}:80".encode())
                for n in range(5)
            ]
            await client.transaction(compare=[], success=puts, failure=[])
        event = await next_event(subscription, lambda e: bool(e.instances))
        assert len(event.instances) == 5  # the revision's events arrive together
    finally:
        await watcher.close()


class CompactingInstancer(EtcdInstancer):
    """Compacts the store right after its first read, before its watch starts."""

    compacted = False

    async def _read(self, client: Any) -> int:
        revision = await super()._read(client)
        if not self.compacted:
            self.compacted = True
            etcd = Etcd(client._host, client._port)
            await etcd.put(f"{self.config.prefix}/late", "10.0.0.8:80")
            await etcd.put(f"{self.config.prefix}/late", "10.0.0.9:80")
            async with etcd.client() as direct:
                latest = await direct.get(f"{self.config.prefix}/late".encode())
                # Everything before the second put is gone, the watch's start included.
                await direct.compact(latest.mod_revision)
        return revision


async def test_a_compacted_start_revision_reads_the_prefix_again(
    shared_etcd: EtcdServer, prefix: str
) -> None:
    await Etcd(shared_etcd.host, shared_etcd.port).put(f"{prefix}/a", "10.0.0.1:80")
    logger = Recorder()
    watcher = CompactingInstancer(config(f"etcd://{shared_etcd.url}{prefix}"), logger=logger)
    try:
        subscription = watcher.subscribe()
        # The watch from the read's revision is refused as compacted; the instancer reads
        # again and so learns of the key put in the gap, without any error event.
        await next_event(subscription, instances("10.0.0.1:80", "10.0.0.9:80"))
        assert watcher.compacted
        assert [r["msg"] for r in logger.records] == ["etcd watch compacted"]
        assert watcher.state is not None and watcher.state.error is None
    finally:
        await watcher.close()


async def test_an_unreachable_etcd_gives_error_events_then_the_set_once_it_answers(
    own_etcd: EtcdServer, prefix: str
) -> None:
    await Etcd(own_etcd.host, own_etcd.port).put(f"{prefix}/a", "10.0.0.1:80")
    await asyncio.to_thread(own_etcd.stop)
    logger = Recorder()
    watcher = instancer(f"etcd://{own_etcd.url}{prefix}", logger=logger)
    try:
        subscription = watcher.subscribe()
        event = await next_event(subscription, failing)
        assert event.instances == ()
        await asyncio.to_thread(own_etcd.start)
        await next_event(subscription, instances("10.0.0.1:80"))
        assert logger.records and logger.records[0]["msg"] == "etcd watch failed"
    finally:
        await watcher.close()


async def test_changes_while_etcd_is_down_arrive_after_it_comes_back(
    own_etcd: EtcdServer, prefix: str
) -> None:
    etcd = Etcd(own_etcd.host, own_etcd.port)
    await etcd.put(f"{prefix}/a", "10.0.0.1:80")
    watcher = instancer(f"etcd://{own_etcd.url}{prefix}")
    try:
        subscription = watcher.subscribe()
        await next_event(subscription, instances("10.0.0.1:80"))
        await asyncio.to_thread(own_etcd.stop, kill=True)
        event = await next_event(subscription, failing)
        assert event.instances == ("10.0.0.1:80",)  # the last good set is kept
        await asyncio.to_thread(own_etcd.start)
        # Changed after the restart, before the instancer reconnects or right after:
        # either way the re-read and the watch from its revision deliver it.
        await etcd.delete(f"{prefix}/a")
        await etcd.put(f"{prefix}/b", "10.0.0.2:80")
        await next_event(subscription, instances("10.0.0.2:80"))
    finally:
        await watcher.close()


async def test_a_dead_host_in_the_list_is_skipped(shared_etcd: EtcdServer, prefix: str) -> None:
    await Etcd(shared_etcd.host, shared_etcd.port).put(f"{prefix}/a", "10.0.0.1:80")
    dead = f"127.0.0.1:{free_port()}"
    watcher = instancer(f"etcd://{dead},{shared_etcd.url}{prefix}")
    try:
        subscription = watcher.subscribe()
        await next_event(subscription, instances("10.0.0.1:80"))
    finally:
        await watcher.close()


async def test_feeds_an_endpointer(shared_etcd: EtcdServer, prefix: str) -> None:
    etcd = Etcd(shared_etcd.host, shared_etcd.port)
    watcher = instancer(f"etcd://{shared_etcd.url}{prefix}", backoff=FAST)
    built: list[str] = []

    def factory(instance: str) -> tuple[Any, None]:
        built.append(instance)

        async def endpoint(request: Any) -> Any:
            return instance

        return endpoint, None

    endpointer = Endpointer(watcher, factory)
    try:
        assert await endpointer.endpoints() == ()
        subscription = watcher.subscribe()
        await etcd.put(f"{prefix}/a", "10.0.0.1:80")
        await next_event(subscription, instances("10.0.0.1:80"))
        for _ in range(100):  # the endpointer reads the same events on its own task
            if built:
                break
            await asyncio.sleep(0.01)
        assert [await e(None) for e in await endpointer.endpoints()] == ["10.0.0.1:80"]
    finally:
        await endpointer.close()
        await watcher.close()


async def test_close_ends_subscriptions_and_releases_the_connection(
    shared_etcd: EtcdServer, prefix: str
) -> None:
    watcher = instancer(f"etcd://{shared_etcd.url}{prefix}")
    subscription = watcher.subscribe()
    await next_event(subscription, instances())
    assert watcher._client is not None and watcher._client.channel is not None
    await watcher.close()
    assert watcher._client is None
    assert [e async for e in subscription] == []
