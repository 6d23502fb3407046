"""Endpointer with 1,000 instances changing one at a time: time per update.

    .venv/bin/python bench/sd_endpointer.py     # writes the "sd-endpointer" section

Each update removes one instance from a set of 1,000 or adds it back; the time runs from the
instancer's update() to the Endpointer handing out the new set, through the real
subscription path, with a factory as cheap as possible so that the Endpointer's own
work is what is measured.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section

from kitcore.sd import BaseInstancer, Endpointer, Event

SIZE = 1_000
UPDATES = 2_000


class ManualInstancer(BaseInstancer):
    """Instances set by the benchmark through update()."""

    async def _watch(self) -> None:
        await asyncio.Event().wait()


async def leaf(request: Any) -> Any:
    return request


async def run() -> list[float]:
    instancer = ManualInstancer()
    instances = [f"10.0.{i // 250}.{i % 250}:8080" for i in range(SIZE)]
    instancer.update(Event(instances=tuple(instances)))
    endpointer = Endpointer(instancer, lambda instance: (leaf, None))
    assert len(await endpointer.endpoints()) == SIZE
    times = []
    current = list(instances)
    for n in range(UPDATES):
        victim = instances[(n // 2) % SIZE]
        # Even updates remove one instance, odd ones add it back: the set size tells
        # when the Endpointer has applied the event.
        current = [i for i in current if i != victim] if n % 2 == 0 else [*current, victim]
        start = time.perf_counter()
        instancer.update(Event(instances=tuple(current)))
        # Polls the public API on purpose: it is what a balancer sees.
        while len(await endpointer.endpoints()) != len(current):  # noqa: ASYNC110
            await asyncio.sleep(0)
        times.append(time.perf_counter() - start)
    await endpointer.close()
    await instancer.close()
    return times


def main() -> None:
    times = asyncio.run(run())
    times.sort()
    p50 = statistics.median(times)
    p99 = times[int(len(times) * 0.99)]
    body = "\n".join(
        [
            "## Endpointer",
            "",
            machine(),
            "",
            f"1,000 instances, {UPDATES} updates of one instance each (add or remove), from "
            "`Instancer.update()` to the Endpointer's new set.",
            "",
            "| per update | mean | p50 | p99 |",
            "|---|---|---|---|",
            f"| Endpointer (1,000 instances) | {statistics.fmean(times) * 1e6:.0f} us | "
            f"{p50 * 1e6:.0f} us | {p99 * 1e6:.0f} us |",
        ]
    )
    write_section("sd-endpointer", body)
    print(body)


if __name__ == "__main__":
    main()
