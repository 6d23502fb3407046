"""Helpers for kit-zookeeper's tests: a direct kazoo client, the suite's driver, event waits.

Loaded by conftest.py as ``kit_zookeeper_testlib`` (under ``--import-mode=importlib`` a
test module cannot import a sibling module by itself).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from kazoo.client import KazooClient
from kazoo.retry import KazooRetry
from kit_zookeeper import ZooKeeperConfig, ZooKeeperInstancer, parse_url

from kitcore.backoff import Backoff
from kitcore.testing.servers import ZooKeeperServer

FAST = Backoff(base=0.01, cap=0.2)
"""Reconnection backoff for tests: recovery within a fraction of a second."""


def direct_client(hosts: str, **kw: Any) -> KazooClient:
    """A started kazoo client that retries its commands through a server restart."""
    client = KazooClient(
        hosts=hosts,
        timeout=kw.pop("timeout", 5.0),
        connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.3),
        command_retry=KazooRetry(max_tries=200, delay=0.05, max_delay=0.3),
        **kw,
    )
    client.start(timeout=10)
    return client


def stop_client(client: KazooClient) -> None:
    """Stop a client and its threads."""
    client.stop()
    client.close()


class Recorder:
    """A logger (``log(**kv)``) keeping every record, to check what would be logged."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def log(self, **kv: Any) -> None:
        """Keep the record."""
        self.records.append(kv)

    def text(self) -> str:
        """Every record as text, as a log line would show it."""
        return "\n".join(" ".join(f"{k}={v!s}" for k, v in r.items()) for r in self.records)


class ZkDriver:
    """The conformance suite's driver: instances as sequential children holding the address.

    Its kazoo calls block briefly; they run on the test's loop on purpose, so that the
    test starts no executor thread that the thread-leak check would count.
    """

    def __init__(self, server: ZooKeeperServer, path: str) -> None:
        self.server = server
        self.path = path
        self.client = direct_client(server.hosts)
        self.nodes: dict[str, str] = {}

    async def add(self, instance: str) -> None:
        """Add ``instance`` as Go kit's zk Registrar would (here a persistent node)."""
        if instance not in self.nodes:
            self.nodes[instance] = self.client.retry(
                self.client.create,
                f"{self.path}/instance",
                instance.encode(),
                sequence=True,
                makepath=True,
            )

    async def remove(self, instance: str) -> None:
        """Delete ``instance``'s node."""
        node = self.nodes.pop(instance, None)
        if node is not None:
            self.client.retry(self.client.delete, node)

    async def break_(self) -> None:
        """Stop ZooKeeper."""
        self.server.stop()

    async def restore(self) -> None:
        """Start ZooKeeper again, with its data."""
        self.server.start()

    def close(self) -> None:
        """Stop the driver's client."""
        stop_client(self.client)


def config(url: str, **options: Any) -> ZooKeeperConfig:
    """A config with the tests' fast backoff."""
    options.setdefault("backoff", FAST)
    return parse_url(url, **options)


def instancer(url: str, **options: Any) -> ZooKeeperInstancer:
    """A ZooKeeperInstancer with the tests' fast backoff."""
    logger = options.pop("logger", None)
    return ZooKeeperInstancer(config(url, **options), logger=logger)


def thread_names() -> list[str]:
    """The names of the live threads."""
    return sorted(t.name for t in threading.enumerate())


async def threads_back_to(baseline: set[threading.Thread], timeout: float = 5.0) -> list[str]:
    """Wait until only ``baseline`` threads are alive; return the names of any extra."""
    deadline = time.monotonic() + timeout
    while True:
        extra = [t.name for t in threading.enumerate() if t not in baseline and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            return extra
        await asyncio.sleep(0.01)
