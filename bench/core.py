"""Core benchmarks: middleware chains, typed service calls, import and `kit plugins` time.

.venv/bin/python bench/core.py        # writes the "core" section of BENCHMARKS.md
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import abest_of, machine, write_section

from kitcore import Endpoint, Middleware, chain, describe, endpoints

N = 200_000


def passthrough() -> Middleware:
    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            return await next_(request)

        return endpoint

    return middleware


async def leaf(request: Any) -> Any:
    return request


def nested(depth: int) -> Endpoint:
    """The same depth of pass-through wrappers, nested by hand as one would without kit."""

    def wrap(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            return await next_(request)

        return endpoint

    endpoint: Endpoint = leaf
    for _ in range(depth):
        endpoint = wrap(endpoint)
    return endpoint


class StringService:
    async def uppercase(self, s: str) -> str:
        return s.upper()


async def chains() -> list[tuple[int, float, float]]:
    rows = []
    for depth in (1, 5, 10):
        kit_ep = chain(passthrough(), *[passthrough() for _ in range(depth - 1)])(leaf)
        hand_ep = nested(depth)
        # Interleave the two so drift in machine load hits both alike.
        kit_t, hand_t = [], []
        for _ in range(5):
            kit_t.append(await abest_of(lambda e=kit_ep: e(1), number=N // 5, repeat=3))
            hand_t.append(await abest_of(lambda e=hand_ep: e(1), number=N // 5, repeat=3))
        rows.append((depth, min(kit_t), min(hand_t)))
    return rows


async def service_call() -> tuple[float, float]:
    svc = StringService()
    ep = endpoints(svc)["uppercase"]
    request = describe(StringService).methods["uppercase"].request_type(s="hello, world")
    kit_t = await abest_of(lambda: ep(request), number=N)
    direct_t = await abest_of(lambda: svc.uppercase(s=request.s), number=N)
    return kit_t, direct_t


def wall(cmd: list[str], runs: int = 15) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rows = asyncio.run(chains())
    kit_t, direct_t = asyncio.run(service_call())
    py = sys.executable
    bare = wall([py, "-c", "pass"])
    imported = wall([py, "-c", "import kitcore"])
    kit_bin = str(Path(py).parent / "kit")
    plugins_wall = wall([kit_bin, "plugins"], runs=7)
    listed = subprocess.run([kit_bin, "plugins", "--json"], capture_output=True, text=True)
    n_plugins = listed.stdout.count('"name"')

    lines = [
        "## Core",
        "",
        machine(),
        "",
        "| middleware chain depth | kit `chain` | hand-nested closures | ratio (target <= 1.10x) |",
        "|---|---|---|---|",
    ]
    for depth, k, h in rows:
        lines.append(f"| {depth} | {k * 1e9:.0f} ns | {h * 1e9:.0f} ns | {k / h:.2f}x |")
    lines += [
        "",
        "| typed service call | kit endpoint (request Struct in) | direct method call | ratio |",
        "|---|---|---|---|",
        f"| uppercase | {kit_t * 1e9:.0f} ns | {direct_t * 1e9:.0f} ns | {kit_t / direct_t:.2f}x |",
        "",
        "| start-up | kit | baseline | difference (target) |",
        "|---|---|---|---|",
        f"| `import kitcore` vs `python -c pass` (median of 15) | {imported * 1e3:.0f} ms | "
        f"{bare * 1e3:.0f} ms | {(imported - bare) * 1e3:.0f} ms (<= 50 ms) |",
        f"| `kit plugins`, {n_plugins} plugins installed (median of 7) | "
        f"{plugins_wall * 1e3:.0f} ms | - | (<= 500 ms) |",
    ]
    body = "\n".join(lines)
    write_section("core", body)
    print(body)


if __name__ == "__main__":
    main()
