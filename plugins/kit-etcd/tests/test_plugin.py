"""kit-etcd as an installed plugin: found by entry point, opened by URL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from kit_etcd import EtcdInstancer, EtcdRegistrar
from kit_etcd_testlib import Etcd

import kitcore.sd
from kitcore.cli import make_cli
from kitcore.plugins import load, reset
from kitcore.testing.sd import event_where as next_event
from kitcore.testing.sd import has_instances as instances
from kitcore.testing.servers import EtcdServer


@pytest.fixture
def installed() -> Iterator[None]:
    """The plugin manager as a fresh process builds it, from the installed entry points."""
    reset(load())
    yield
    reset()


async def test_urls_open_the_etcd_backend(
    installed: None, shared_etcd: EtcdServer, prefix: str
) -> None:
    url = f"etcd://{shared_etcd.url}{prefix}?ttl=3"
    watcher = kitcore.sd.instancer(url)
    registrar = kitcore.sd.registrar(url, "10.0.0.1:80")
    assert isinstance(watcher, EtcdInstancer)
    assert isinstance(registrar, EtcdRegistrar)
    try:
        subscription = watcher.subscribe()
        async with registrar:
            await next_event(subscription, instances("10.0.0.1:80"))
            values = await Etcd(shared_etcd.host, shared_etcd.port).values(prefix)
            assert values == {f"{prefix}/10.0.0.1:80": "10.0.0.1:80"}
    finally:
        await watcher.close()


def test_kit_plugins_lists_it(installed: None) -> None:
    result = CliRunner().invoke(make_cli(), ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    entry = next(p for p in json.loads(result.output) if p["name"] == "kit-etcd")
    assert entry["error"] is None
    assert entry["registers"] == {"discovery": ["etcd"]}
