"""kitcore.sd.instancer / registrar: opening discovery backends by URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kitcore import hookimpl
from kitcore.plugins import BackendNotFound, load, reset
from kitcore.sd import instancer, registrar
from kitcore.testing.sd import MemoryBackend


@pytest.fixture
def backend() -> Iterator[MemoryBackend]:
    memory = MemoryBackend()

    class Plugin:
        @hookimpl
        def kit_register_discovery(self, register: Any) -> None:
            register(
                "mem",
                lambda url, **o: memory.instancer(),
                registrar=lambda url, instance, **o: memory.registrar(instance),
            )
            register("norg", lambda url, **o: memory.instancer())

    reset(load(entry_points=False, extra=[("mem", Plugin())]))
    yield memory
    reset()


async def test_static_urls_open_without_any_plugin(backend: MemoryBackend) -> None:
    opened = instancer("static://10.0.0.1:80,10.0.0.2:80")
    subscription = opened.subscribe()
    event = await anext(subscription)
    assert event.instances == ("10.0.0.1:80", "10.0.0.2:80")
    await opened.close()


async def test_registrar_and_instancer_of_a_plugin(backend: MemoryBackend) -> None:
    watcher = instancer("mem://svc")
    async with registrar("mem://svc", "127.0.0.1:9000"):
        subscription = watcher.subscribe()
        event = await anext(subscription)
        assert event.instances == ("127.0.0.1:9000",)
    await watcher.close()


async def test_clear_errors_for_missing_backends(backend: MemoryBackend) -> None:
    with pytest.raises(BackendNotFound, match="install kit-zookeeper"):
        instancer("zk://127.0.0.1:2181/services/x")
    with pytest.raises(BackendNotFound, match="cannot register"):
        registrar("norg://x", "h:1")
    with pytest.raises(BackendNotFound, match="cannot register"):
        registrar("static://h:1", "h:1")
