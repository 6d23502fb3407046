"""kit's pytest plugin: fixtures for plugin authors, loaded by pytest through ``pytest11``.

Installing kitcore makes these fixtures available in every test run, with nothing to
import (pytest loads this module through the ``pytest11`` entry point, named
``kitcore``; a conftest must not list it in ``pytest_plugins`` again):

- ``kit_plugins(*plugins)``: an isolated plugin manager holding the core's built-ins
  and only the plugins named (installed entry points by name, or ``(name, object)``
  pairs), made the process-wide one for the test;
- real servers, started on free loopback ports and stopped after use, skipped when the
  server is not installed (failed under ``KIT_REQUIRE_SERVICES=1``): ``shared_etcd``
  and ``shared_zk`` (one per session), ``own_etcd`` and ``own_zk`` (one per test, free
  to stop), ``dnsmasq_factory(records, ttl=1)``, ``prometheus_factory(targets)``, and
  ``redis_url`` (the Redis at ``KIT_REDIS_URL``, default ``redis://127.0.0.1:6379/0``,
  checked to answer);
- ``kit_no_leaked_threads``: fails a test that leaves a thread running.

The conformance suites as classes to subclass are in :mod:`kitcore.testing.suites`.
pytest is imported here at the top: this module only ever loads inside pytest.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

import kitcore.plugins as kit_plugins_module
from kitcore.plugins import Plugins, load
from kitcore.testing.servers import (
    DnsmasqServer,
    DnsRecord,
    EtcdServer,
    PrometheusServer,
    ZooKeeperServer,
    dnsmasq_server,
    etcd_server,
    prometheus_server,
    zookeeper_server,
)
from kitcore.testing.services import unavailable

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
"""The Redis ``redis_url`` checks when ``KIT_REDIS_URL`` is not set."""


@pytest.fixture
def kit_plugins() -> Iterator[Callable[..., Plugins]]:
    """Build isolated plugin managers: ``kit_plugins("kit-etcd", ("mine", MyHooks()))``.

    Each holds the core's built-ins and only the plugins named: a string loads that
    installed entry point (as ``KIT_PLUGINS`` would), a ``(name, plugin)`` pair registers
    an object or module with hookimpls. The last one built is the process-wide manager
    (``kitcore.plugins.plugins()``) until the test ends, when the previous one returns.
    """
    previous = kit_plugins_module._plugins

    def build(*plugins: str | tuple[str, object]) -> Plugins:
        names = [p for p in plugins if isinstance(p, str)]
        extra = [p for p in plugins if not isinstance(p, str)]
        manager = load(entry_points=bool(names), extra=extra, env={"KIT_PLUGINS": ",".join(names)})
        missing = set(names) - {i.name for i in manager.infos if not i.disabled}
        if missing:
            raise LookupError(f"no installed kit plugin called {', '.join(sorted(missing))}")
        kit_plugins_module.reset(manager)
        return manager

    try:
        yield build
    finally:
        kit_plugins_module.reset(previous)


@pytest.fixture(scope="session")
def shared_etcd() -> Iterator[EtcdServer]:
    """One real etcd for the tests that never stop it (each should use its own prefix)."""
    with etcd_server() as server:
        yield server


@pytest.fixture
def own_etcd() -> Iterator[EtcdServer]:
    """A real etcd for one test, free to stop and start."""
    with etcd_server() as server:
        yield server


@pytest.fixture(scope="session")
def shared_zk() -> Iterator[ZooKeeperServer]:
    """One real ZooKeeper for the tests that never stop it (each should use its own path)."""
    with zookeeper_server() as server:
        yield server


@pytest.fixture
def own_zk() -> Iterator[ZooKeeperServer]:
    """A real ZooKeeper for one test, free to stop and start."""
    with zookeeper_server() as server:
        yield server


@pytest.fixture
def dnsmasq_factory() -> Iterator[Callable[..., DnsmasqServer]]:
    """Start real dnsmasq servers: ``dnsmasq_factory(records, ttl=1)``; all stop after the test."""
    with ExitStack() as stack:

        def start(records: tuple[DnsRecord, ...] | list[DnsRecord] = (), *, ttl: int = 1) -> Any:
            return stack.enter_context(dnsmasq_server(records, ttl=ttl))

        yield start


@pytest.fixture
def prometheus_factory() -> Iterator[Callable[..., PrometheusServer]]:
    """Start real Prometheus servers: ``prometheus_factory(["127.0.0.1:8080"])``; stopped after."""
    with ExitStack() as stack:

        def start(targets: list[str], **options: Any) -> Any:
            return stack.enter_context(prometheus_server(targets, **options))

        yield start


def _redis_answers(url: str, timeout: float = 1.0) -> str | None:
    """None when the Redis at ``url`` answers PING, else why not."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(b"PING\r\n")
            reply = conn.recv(64)
    except OSError as exc:
        return f"{exc}"
    return None if reply.startswith((b"+PONG", b"-NOAUTH")) else f"answered {reply!r}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of a real Redis that answers (``KIT_REDIS_URL``, default the local one)."""
    url = os.environ.get("KIT_REDIS_URL", DEFAULT_REDIS_URL)
    problem = _redis_answers(url)
    if problem is not None:
        unavailable(f"Redis at {url}: {problem}")
    return url


@pytest.fixture
def kit_no_leaked_threads() -> Iterator[None]:
    """Fail the test if threads it started still run 2 seconds after it ends."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert left == [], f"threads left running: {left}"
