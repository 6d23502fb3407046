"""kit-consul: propagation from (de)registration to the Endpointer, and an idle watch's CPU.

    .venv/bin/python bench/sd_consul.py          # writes the "sd-consul" section
    .venv/bin/python bench/sd_consul.py --quick  # fewer changes, 5 s idle, prints only

No Consul can be installed here: the agent is kit-consul's fake (kit_consul.fake,
speaking Consul's HTTP API), run in a subprocess so that its CPU is not the client's.
Propagation runs from ``ConsulRegistrar.register()`` (or ``deregister()``) being called
to an Endpointer over a ``ConsulInstancer`` handing out the changed endpoint set: the
registrar's PUTs, the agent waking the blocking query, the answer, the event, the
Endpointer's update. Idle CPU is the client process's CPU time (every thread) while an
Endpointer follows a service that does not change, with the default 60 s wait.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _propagation import leaf, percentile, row, until_size
from _report import machine, write_section
from kit_consul import AgentOptions, ConsulInstancer, ConsulRegistrar, RegisterOptions, WatchOptions
from kit_consul.fake import agent_process

from kitcore.sd import Endpointer


async def propagation(agent: AgentOptions, changes: int) -> tuple[list[float], list[float]]:
    """Seconds from register() / deregister() to the Endpointer's new set, for each change."""
    watcher = ConsulInstancer(agent, WatchOptions("bench"))
    endpointer = Endpointer(watcher, lambda instance: (leaf, None))
    await until_size(endpointer, 0)
    registered: list[float] = []
    deregistered: list[float] = []
    for n in range(changes // 2):
        registrar = ConsulRegistrar(
            agent, RegisterOptions("bench", ttl=30.0), f"10.0.{n // 250}.{n % 250 + 1}:8080"
        )
        start = time.perf_counter()
        await registrar.register()
        await until_size(endpointer, 1)
        registered.append(time.perf_counter() - start)
        start = time.perf_counter()
        await registrar.close()
        await until_size(endpointer, 0)
        deregistered.append(time.perf_counter() - start)
    await endpointer.close()
    await watcher.close()
    return registered, deregistered


async def idle_cpu(agent: AgentOptions, seconds: float) -> float:
    """CPU seconds the process used while an Endpointer followed an unchanging service."""
    registrar = ConsulRegistrar(agent, RegisterOptions("idle", ttl=3600.0), "10.0.0.1:8080")
    await registrar.register()
    watcher = ConsulInstancer(agent, WatchOptions("idle"))
    endpointer = Endpointer(watcher, lambda instance: (leaf, None))
    await until_size(endpointer, 1)
    await asyncio.sleep(0.5)  # let the first blocking query settle
    before = time.process_time()
    await asyncio.sleep(seconds)
    used = time.process_time() - before
    await endpointer.close()
    await watcher.close()
    await registrar.close()
    return used


async def run(changes: int, idle_seconds: float) -> str:
    with agent_process() as port:
        agent = AgentOptions(port=port)
        registered, deregistered = await propagation(agent, changes)
        cpu = await idle_cpu(agent, idle_seconds)
    both = registered + deregistered
    return "\n".join(
        [
            "## Service discovery: Consul (kit-consul)",
            "",
            machine(),
            "",
            "Against the fake Consul agent of kit-consul's tests (Consul's HTTP API; no Consul "
            "can be installed here), in its own process. Propagation: from "
            "`ConsulRegistrar.register()`/`deregister()` being called to an Endpointer over a "
            "`ConsulInstancer` (blocking health queries) handing out the new endpoint set.",
            "",
            "| change | n | p50 | p99 | max |",
            "|---|---|---|---|---|",
            row("register", registered),
            row("deregister", deregistered),
            row("all", both),
            "",
            f"p99 over all changes: {percentile(both, 0.99) * 1e3:.1f} ms (target <= 100 ms).",
            "",
            f"Idle: an Endpointer following an unchanging service for {idle_seconds:.0f} s "
            f"(default `wait=60s`: one blocking query held open) used "
            f"{cpu * 1e3:.1f} ms of CPU ({cpu / idle_seconds * 100:.3f}% of one core).",
        ]
    )


def main() -> None:
    quick = "--quick" in sys.argv
    body = asyncio.run(run(changes=40 if quick else 200, idle_seconds=5.0 if quick else 60.0))
    print(body)
    if not quick:
        write_section("sd-consul", body)


if __name__ == "__main__":
    main()
