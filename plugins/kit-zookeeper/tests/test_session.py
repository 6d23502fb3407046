"""The kazoo-to-asyncio bridge: results, watches and states arrive on the loop's thread."""

from __future__ import annotations

import asyncio
import threading

import pytest
from kazoo.client import KazooState
from kazoo.exceptions import NoNodeError
from kit_zookeeper.session import Session, call_soon, in_thread, wait_event
from kit_zookeeper_testlib import config, direct_client, stop_client

from kitcore.testing.servers import ZooKeeperServer
from kitcore.testing.services import free_port


async def test_in_thread_returns_raises_and_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    assert await in_thread(lambda: threading.current_thread().name, "kit-test") == "kit-test"

    def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await in_thread(fail, "kit-test")
    assert set(threading.enumerate()) == before


def test_call_soon_on_a_closed_loop_is_dropped() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    call_soon(loop, print, "never")  # no RuntimeError in kazoo's thread


async def test_results_watches_and_states_arrive_on_the_loop(
    shared_zk: ZooKeeperServer, path: str
) -> None:
    loop_thread = threading.get_ident()
    states: list[tuple[str, int]] = []
    session = Session(
        config(f"zk://{shared_zk.hosts}{path}"),
        lambda state: states.append((state, threading.get_ident())),
    )
    zk = direct_client(shared_zk.hosts)
    try:
        await session.start()
        assert await session.wait_connected(5)
        assert states == [(KazooState.CONNECTED, loop_thread)]
        client = session.client
        with pytest.raises(NoNodeError):
            await session.run(client.get_async, path)
        fired: list[int] = []
        woke = asyncio.Event()

        def on_watch() -> None:
            fired.append(threading.get_ident())
            woke.set()

        assert (
            await session.run(client.exists_async, path, watch=session.notifier(on_watch)) is None
        )
        zk.create(path, b"x", makepath=True)
        await asyncio.wait_for(woke.wait(), 5)
        assert fired == [loop_thread]
        data, _stat = await session.run(client.get_async, path)
        assert data == b"x"
    finally:
        await session.close()
        await session.close()  # idempotent
        stop_client(zk)
    assert not session.connected


async def test_wait_connected_gives_up_after_its_timeout(path: str) -> None:
    session = Session(config(f"zk://127.0.0.1:{free_port()}{path}"))
    try:
        await session.start()
        assert not await session.wait_connected(0.1)
    finally:
        await session.close()


async def test_wait_event_times_out_and_sees_a_set_event() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, None) is True


async def test_a_cancel_that_arrives_as_the_event_is_set_is_not_swallowed() -> None:
    # asyncio.wait_for on 3.11 returns here instead: the watch loop then never ended.
    event = asyncio.Event()
    waiting = asyncio.ensure_future(wait_event(event, 10))
    await asyncio.sleep(0)
    event.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
