"""EtcdRegistrar against a real etcd: the suite, the lease, its loss, a killed process."""

from __future__ import annotations

import asyncio

import aetcd
import pytest
from kit_etcd import EtcdRegistrar
from kit_etcd_testlib import Etcd, Recorder, config, instancer

from kitcore import sd
from kitcore.backoff import Backoff
from kitcore.testing.sd import check_registrar, registered_process
from kitcore.testing.sd import event_where as next_event
from kitcore.testing.sd import has_instances as instances
from kitcore.testing.servers import EtcdServer
from kitcore.testing.services import free_port


def registrar(url: str, instance: str, **options: object) -> EtcdRegistrar:
    """A registrar with the tests' fast backoff."""
    return EtcdRegistrar(config(url, **options), instance)  # type: ignore[arg-type]


async def test_passes_the_registrar_suite(shared_etcd: EtcdServer, prefix: str) -> None:
    etcd = Etcd(shared_etcd.host, shared_etcd.port)
    url = f"etcd://{shared_etcd.url}{prefix}"

    async def registered() -> set[str]:
        return set((await etcd.values(prefix)).values())

    await check_registrar(lambda instance: registrar(url, instance), registered)


async def test_the_key_is_prefix_slash_instance_on_a_lease_of_ttl(
    shared_etcd: EtcdServer, prefix: str
) -> None:
    etcd = Etcd(shared_etcd.host, shared_etcd.port)
    async with registrar(f"etcd://{shared_etcd.url}{prefix}?ttl=7", "10.0.0.1:80") as reg:
        assert reg.key == f"{prefix}/10.0.0.1:80".encode()
        assert await etcd.values(prefix) == {f"{prefix}/10.0.0.1:80": "10.0.0.1:80"}
        async with etcd.client() as client:
            stored = await client.get(reg.key)
            assert stored.lease == reg.lease_id
            info = await client.get_lease_info(reg.lease_id)
            assert info.grantedTTL == 7


async def test_the_lease_is_kept_alive_beyond_its_ttl(shared_etcd: EtcdServer, prefix: str) -> None:
    etcd = Etcd(shared_etcd.host, shared_etcd.port)
    async with registrar(f"etcd://{shared_etcd.url}{prefix}?ttl=1", "10.0.0.1:80") as reg:
        lease = reg.lease_id
        await asyncio.sleep(2.0)  # without refreshes the key would be gone after ~1 s
        assert await etcd.values(prefix) == {f"{prefix}/10.0.0.1:80": "10.0.0.1:80"}
        assert reg.lease_id == lease


async def test_a_revoked_lease_is_replaced_and_the_key_comes_back(
    shared_etcd: EtcdServer, prefix: str
) -> None:
    url = f"etcd://{shared_etcd.url}{prefix}"
    logger = Recorder()
    reg = EtcdRegistrar(config(url, ttl=1), "10.0.0.1:80", logger=logger)
    watcher = instancer(url)
    try:
        await reg.register()
        subscription = watcher.subscribe()
        await next_event(subscription, instances("10.0.0.1:80"))
        lost = reg.lease_id
        async with Etcd(shared_etcd.host, shared_etcd.port).client() as client:
            await client.revoke_lease(lost)  # behind the registrar's back
        await next_event(subscription, instances())
        await next_event(subscription, instances("10.0.0.1:80"))
        # The watch event can overtake the put's own reply to the registrar: allow for it.
        for _ in range(100):
            if reg.lease_id not in (None, lost):
                break
            await asyncio.sleep(0.01)
        assert reg.lease_id not in (None, lost)
        assert "etcd lease lost, registering again" in [r["msg"] for r in logger.records]
    finally:
        await reg.close()
        await watcher.close()


async def test_registering_again_moves_the_key_to_a_new_lease(
    shared_etcd: EtcdServer, prefix: str
) -> None:
    etcd = Etcd(shared_etcd.host, shared_etcd.port)
    async with registrar(f"etcd://{shared_etcd.url}{prefix}", "10.0.0.1:80") as reg:
        first = reg.lease_id
        await reg.register()
        assert reg.lease_id != first
        assert await etcd.values(prefix) == {f"{prefix}/10.0.0.1:80": "10.0.0.1:80"}
        async with etcd.client() as client:
            assert (await client.get_lease_info(first)).TTL == -1  # revoked


async def test_survives_an_etcd_outage_longer_than_its_ttl(
    own_etcd: EtcdServer, prefix: str
) -> None:
    url = f"etcd://{own_etcd.url}{prefix}"
    etcd = Etcd(own_etcd.host, own_etcd.port)
    async with registrar(url, "10.0.0.1:80", ttl=1):
        await asyncio.to_thread(own_etcd.stop)
        await asyncio.sleep(1.5)  # the keepalive fails meanwhile, and backs off
        await asyncio.to_thread(own_etcd.start)
        watcher = instancer(url)
        try:
            subscription = watcher.subscribe()
            await next_event(subscription, instances("10.0.0.1:80"))
            # Still there well after a TTL: the lease is being refreshed again.
            await asyncio.sleep(1.5)
            assert await etcd.values(prefix) == {f"{prefix}/10.0.0.1:80": "10.0.0.1:80"}
        finally:
            await watcher.close()
    assert await etcd.values(prefix) == {}


async def test_a_killed_process_leaves_the_set_when_its_lease_runs_out(
    shared_etcd: EtcdServer, prefix: str
) -> None:
    url = f"etcd://{shared_etcd.url}{prefix}"
    watcher = instancer(url)
    try:
        async with registered_process(f"{url}?ttl=1", "10.0.0.7:80") as child:
            subscription = watcher.subscribe()
            await next_event(subscription, instances("10.0.0.7:80"))
            child.kill()  # SIGKILL: no deregistration, no lease revocation
            await child.wait()
            await next_event(subscription, instances(), timeout=10)
    finally:
        await watcher.close()


async def test_register_fails_loudly_when_etcd_is_unreachable(prefix: str) -> None:
    reg = registrar(f"etcd://127.0.0.1:{free_port()}{prefix}?timeout=1", "10.0.0.1:80")
    with pytest.raises(aetcd.ClientError):
        await reg.register()
    assert not reg.registered
    await reg.close()


def test_an_instance_must_look_like_an_address() -> None:
    for bad in ("", " 10.0.0.1:80", "a/b"):
        with pytest.raises(ValueError, match="host:port"):
            EtcdRegistrar.from_url("etcd://h:1/p", bad)


async def test_a_failed_register_again_keeps_the_old_registration_alive(
    own_etcd: EtcdServer, prefix: str
) -> None:
    etcd = Etcd(own_etcd.host, own_etcd.port)
    async with registrar(f"etcd://{own_etcd.url}{prefix}?timeout=1", "10.0.0.1:80", ttl=1) as reg:
        await asyncio.to_thread(own_etcd.stop)
        with pytest.raises(aetcd.ClientError):
            await reg.register()
        await asyncio.to_thread(own_etcd.start)
        await asyncio.sleep(2.0)  # two TTLs: only a refreshed lease keeps the key
        assert await etcd.values(prefix) == {f"{prefix}/10.0.0.1:80": "10.0.0.1:80"}


async def test_registering_while_etcd_is_down_is_retried_until_it_answers(
    own_etcd: EtcdServer, prefix: str
) -> None:
    etcd = Etcd(own_etcd.host, own_etcd.port)
    await asyncio.to_thread(own_etcd.stop)
    logger = Recorder()
    reg = registrar(f"etcd://{own_etcd.url}{prefix}", "10.0.0.1:80")
    fast = Backoff(base=0.05, cap=0.2)
    registering = asyncio.ensure_future(sd.register_with_backoff(reg, backoff=fast, logger=logger))
    try:
        while logger.text().count("registration failed, retrying") < 2:
            assert not registering.done()
            await asyncio.sleep(0.02)
        errors = [r["err"] for r in logger.records if "err" in r]
        assert errors and all(isinstance(e, aetcd.ConnectionFailedError) for e in errors)
        await asyncio.to_thread(own_etcd.start)
        await asyncio.wait_for(registering, 20)
        assert reg.registered
        assert await etcd.values(prefix) == {f"{prefix}/10.0.0.1:80": "10.0.0.1:80"}
    finally:
        registering.cancel()
        await reg.close()


async def test_a_cancelled_start_leaves_nothing_open(own_etcd: EtcdServer, prefix: str) -> None:
    await asyncio.to_thread(own_etcd.stop)
    reg = registrar(f"etcd://{own_etcd.url}{prefix}", "10.0.0.1:80")
    registering = asyncio.ensure_future(sd.register_with_backoff(reg))
    await asyncio.sleep(0.3)
    registering.cancel()
    await asyncio.wait([registering])
    assert not reg.registered
    assert reg._client is None  # no channel left reconnecting in the background
    await reg.close()
