"""kit-etcd: propagation from (de)registration to the Endpointer, and an idle watch's CPU.

    .venv/bin/python bench/sd_etcd.py          # writes the "sd-etcd" section
    .venv/bin/python bench/sd_etcd.py --quick  # fewer changes, 5 s idle, prints only

A real etcd (Debian's etcd-server) runs on loopback with its data in a temporary
directory. Propagation runs from ``EtcdRegistrar.register()`` (or ``deregister()``)
being called to an Endpointer over an ``EtcdInstancer`` changing its endpoint set: the
lease grant and put (or delete), etcd's commit, the watch event, the instancer's event,
the Endpointer's update. The Endpointer's factory and closer mark the moment, so
nothing polls. Idle CPU is the process's CPU time (every thread: the loop's and gRPC's)
while an Endpointer follows a prefix that does not change.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import aetcd
from _propagation import change_rounds, idle_cost, leaf, percentile, row, until_size
from _report import machine, write_section
from kit_etcd import EtcdInstancer, EtcdRegistrar, parse_url

from kitcore.sd import Endpointer
from kitcore.testing.servers import etcd_server


async def propagation(url: str, changes: int, others: int) -> tuple[list[float], list[float]]:
    """Seconds from register() / deregister() to the Endpointer's changed set, per change."""
    config = parse_url(url)
    host, port = config.hosts[0]
    async with aetcd.Client(host, port) as client:
        for n in range(others):
            key = f"{config.prefix}/10.1.{n // 250}.{n % 250}:80"
            await client.put(key.encode(), key.rsplit("/", 1)[1].encode())
    registrar = EtcdRegistrar(config, "10.0.0.1:8080")
    rounds = await change_rounds(EtcdInstancer(config), registrar, "10.0.0.1:8080", changes, others)
    async with aetcd.Client(host, port) as client:
        await client.delete_prefix(config.key_prefix)
    return rounds


async def idle_cpu(url: str, seconds: float) -> tuple[float, float, int]:
    """CPU seconds used (whole process, loop thread) following an unchanging prefix; threads."""
    registrar = EtcdRegistrar.from_url(url, "10.0.0.1:8080")
    await registrar.register()
    watcher = EtcdInstancer.from_url(url)
    endpointer = Endpointer(watcher, lambda instance: (leaf, None))
    await until_size(endpointer, 1)
    await registrar.close()  # its lease keepalive is not the watch's cost
    cost = await idle_cost(seconds)
    await endpointer.close()
    await watcher.close()
    return cost


async def run(changes: int, idle_seconds: float) -> str:
    with etcd_server() as server:
        url = f"etcd://{server.url}/bench/svc"
        small = await propagation(url, changes, others=10)
        large = await propagation(url, changes, others=1000)
        cpu, loop_cpu, threads = await idle_cpu(f"etcd://{server.url}/bench/idle", idle_seconds)
    both = small[0] + small[1]
    return "\n".join(
        [
            "## Service discovery: etcd (kit-etcd)",
            "",
            f"{machine()}, etcd {etcd_version()}, aetcd {aetcd_version()}",
            "",
            "A real etcd on loopback (single member, data on local disk). Propagation: from "
            "`EtcdRegistrar.register()`/`deregister()` being called (lease grant and put, or "
            "delete and lease revocation) to an Endpointer over an `EtcdInstancer` (one watch "
            "on the prefix) building or closing the instance's endpoint.",
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
            f"Idle: an Endpointer following an unchanging prefix for {idle_seconds:.0f} s "
            f"(one watch stream, gRPC keepalive pings every 10 s) used {cpu * 1e3:.1f} ms of "
            f"CPU in the whole process ({cpu / idle_seconds * 100:.3f}% of one core), "
            f"{loop_cpu * 1e3:.1f} ms of it on the event loop's thread; the rest is gRPC's "
            f"native threads ({threads} Python threads in the process meanwhile).",
        ]
    )


def etcd_version() -> str:
    out = subprocess.run(["etcd", "--version"], capture_output=True, text=True).stdout
    return out.split()[2] if out.startswith("etcd Version") else "?"


def aetcd_version() -> str:
    return version("aetcd")


def main() -> None:
    quick = "--quick" in sys.argv
    body = asyncio.run(run(changes=40 if quick else 200, idle_seconds=5.0 if quick else 60.0))
    print(body)
    if not quick:
        write_section("sd-etcd", body)


if __name__ == "__main__":
    main()
