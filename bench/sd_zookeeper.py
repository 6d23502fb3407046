"""kit-zookeeper: propagation from (de)registration to the Endpointer, and an idle watch's CPU.

    .venv/bin/python bench/sd_zookeeper.py          # writes the "sd-zookeeper" section
    .venv/bin/python bench/sd_zookeeper.py --quick  # fewer changes, 5 s idle, prints only

A real ZooKeeper (Debian's zookeeper, standalone) runs on loopback with its data in a
temporary directory. Propagation runs from ``ZooKeeperRegistrar.register()`` (or
``deregister()``) being called to an Endpointer over a ``ZooKeeperInstancer`` changing
its endpoint set: the registrar's requests, ZooKeeper's commit, the child watch firing
in kazoo's thread, the hand-over to the loop, the new listing and the new child's data,
the instancer's event, the Endpointer's update. The Endpointer's factory and closer
mark the moment, so nothing polls. Idle CPU is the process's CPU time, every thread
(kazoo's connection thread and workers too), while an Endpointer follows a path that
does not change.
"""

from __future__ import annotations

import asyncio
import sys
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _propagation import change_rounds, idle_cost, leaf, percentile, row, until_size
from _report import machine, write_section
from kazoo.client import KazooClient
from kit_zookeeper import ZooKeeperInstancer, ZooKeeperRegistrar, parse_url

from kitcore.sd import Endpointer
from kitcore.testing.servers import zookeeper_server


def populate(hosts: str, path: str, others: int) -> None:
    """Create ``others`` persistent instance nodes under ``path`` (before timing)."""
    client = KazooClient(hosts=hosts)
    client.start(timeout=10)
    try:
        client.ensure_path(path)
        for first in range(0, others, 200):
            transaction = client.transaction()
            for n in range(first, min(others, first + 200)):
                address = f"10.1.{n // 250}.{n % 250}:80"
                transaction.create(f"{path}/instance{n:010}", address.encode())
            transaction.commit()
    finally:
        client.stop()
        client.close()


async def propagation(url: str, changes: int, others: int) -> tuple[list[float], list[float]]:
    """Seconds from register() / deregister() to the Endpointer's changed set, per change."""
    config = parse_url(url)
    populate(config.connection_string, config.path, others)
    watcher = ZooKeeperInstancer(config)
    registrar = ZooKeeperRegistrar(config, "10.0.0.1:8080")
    return await change_rounds(watcher, registrar, "10.0.0.1:8080", changes, others)


async def idle_cpu(url: str, seconds: float) -> tuple[float, float, int]:
    """CPU seconds used (whole process, loop thread) following an unchanging path; threads."""
    config = parse_url(url)
    populate(config.connection_string, config.path, 1)
    watcher = ZooKeeperInstancer(config)
    endpointer = Endpointer(watcher, lambda instance: (leaf, None))
    await until_size(endpointer, 1)
    cost = await idle_cost(seconds)
    await endpointer.close()
    await watcher.close()
    return cost


async def run(changes: int, idle_seconds: float) -> str:
    with zookeeper_server() as server:
        small = await propagation(f"zk://{server.hosts}/bench/small", changes, others=10)
        large = await propagation(f"zk://{server.hosts}/bench/large", changes, others=1000)
        cpu, loop_cpu, threads = await idle_cpu(f"zk://{server.hosts}/bench/idle", idle_seconds)
        zk_version = server.command("srvr").split("\n", 1)[0].split(":", 1)[1].split("-")[0]
    both = small[0] + small[1]
    return "\n".join(
        [
            "## Service discovery: ZooKeeper (kit-zookeeper)",
            "",
            f"{machine()}, ZooKeeper {zk_version.strip()}, kazoo {version('kazoo')}",
            "",
            "A real standalone ZooKeeper on loopback. Propagation: from "
            "`ZooKeeperRegistrar.register()`/`deregister()` being called (ephemeral sequential "
            "node created, or deleted) to an Endpointer over a `ZooKeeperInstancer` (child "
            "watch, kazoo's thread handing over to the loop, children listed again, the new "
            "child's data read) building or closing the instance's endpoint.",
            "",
            "| change | n | p50 | p99 | max |",
            "|---|---|---|---|---|",
            row("register (10 other instances)", small[0]),
            row("deregister (10 other instances)", small[1]),
            row("register (1,000 other instances)", large[0]),
            row("deregister (1,000 other instances)", large[1]),
            "",
            f"p99 over all {len(both)} changes with 10 others: "
            f"{percentile(both, 0.99) * 1e3:.1f} ms (target <= 100 ms).",
            "",
            f"Idle: an Endpointer following an unchanging path for {idle_seconds:.0f} s "
            f"(default 10 s session: kazoo pings every ~3 s) used {cpu * 1e3:.1f} ms of CPU "
            f"in the whole process ({cpu / idle_seconds * 100:.3f}% of one core), "
            f"{loop_cpu * 1e3:.1f} ms of it on the event loop's thread; the rest is kazoo's "
            f"threads ({threads} threads in the process meanwhile).",
        ]
    )


def main() -> None:
    quick = "--quick" in sys.argv
    body = asyncio.run(run(changes=40 if quick else 200, idle_seconds=5.0 if quick else 60.0))
    print(body)
    if not quick:
        write_section("sd-zookeeper", body)


if __name__ == "__main__":
    main()
