"""kit-zookeeper as an installed plugin: found by entry point, opened by URL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from kit_zookeeper import ZooKeeperInstancer, ZooKeeperRegistrar

import kitcore.sd
from kitcore.cli import make_cli
from kitcore.plugins import load, reset
from kitcore.testing.sd import event_where as next_event
from kitcore.testing.sd import has_instances as instances
from kitcore.testing.servers import ZooKeeperServer


@pytest.fixture
def installed() -> Iterator[None]:
    """The plugin manager as a fresh process builds it, from the installed entry points."""
    reset(load())
    yield
    reset()


async def test_urls_open_the_zookeeper_backend(
    installed: None, shared_zk: ZooKeeperServer, path: str
) -> None:
    url = f"zk://{shared_zk.hosts}{path}?session_timeout=4"
    watcher = kitcore.sd.instancer(url)
    registrar = kitcore.sd.registrar(url, "10.0.0.1:80")
    assert isinstance(watcher, ZooKeeperInstancer)
    assert isinstance(registrar, ZooKeeperRegistrar)
    try:
        subscription = watcher.subscribe()
        async with registrar:
            await next_event(subscription, instances("10.0.0.1:80"))
        await next_event(subscription, instances())
    finally:
        await watcher.close()


def test_kit_plugins_lists_it(installed: None) -> None:
    result = CliRunner().invoke(make_cli(), ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    entry = next(p for p in json.loads(result.output) if p["name"] == "kit-zookeeper")
    assert entry["error"] is None
    assert entry["registers"] == {"discovery": ["zk"]}
