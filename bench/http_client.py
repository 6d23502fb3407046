"""kit-http's client against raw aiohttp and raw httpx, calling the same server.

    .venv/bin/python bench/http_client.py [ROUNDS]

The server (kit-http on uvicorn) runs pinned to CPU 0; this process, pinned to CPU 1,
calls POST /uppercase and decodes the JSON answer, one call at a time and with 16
concurrent callers, for a fixed time per run; rounds are interleaved and each
contender's best kept. Contenders:

- raw aiohttp: one ClientSession, ``post`` + ``read`` + msgspec decode;
- raw httpx: one AsyncClient, ``post`` + msgspec decode;
- kit ClientEndpoint: Go kit's explicit client (what stringsvc3's proxy uses);
- kit ``connect()``: the typed client with its defaults: Retry (retry budget,
  per-attempt timeouts), PeakEwma, OutlierEjection and the Endpointer, with the
  deadline sent as ``Kit-Timeout``.

Writes the "http-client" part of BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _http import BODY, LOAD_CPU, pin, serving, write_subsection
from _report import machine

SECONDS = 3.0
CONCURRENCY = (1, 16)
HEADERS = {"Content-Type": "application/json"}

Call = Callable[[], Awaitable[Any]]


async def rate(call: Call, concurrency: int, seconds: float) -> float:
    """Calls per second ``concurrency`` callers complete in ``seconds``."""
    for _ in range(20):
        assert await call() == "HELLO, WORLD"
    done = 0
    stop = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await call()
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


Rates = dict[tuple[str, int], list[float]]
"""Each (contender, callers)'s rate in every round, in round order."""


def steal() -> int:
    """Clock ticks the hypervisor took from this machine so far (/proc/stat's steal)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return int(fields[8])
    except (OSError, IndexError, ValueError):
        return 0


async def measure(url: str, rounds: int) -> Rates:
    import aiohttp
    import httpx
    import msgspec
    from kit_http.client import ClientEndpoint

    from bench.http_apps import StringService
    from kitcore import close, connect

    decode = msgspec.json.Decoder(str).decode
    session = aiohttp.ClientSession()
    hx = httpx.AsyncClient()
    endpoint = ClientEndpoint("POST", f"{url}/uppercase", response_type=str)
    remote = connect(StringService, url)

    async def raw_aiohttp() -> Any:
        async with session.post(f"{url}/uppercase", data=BODY, headers=HEADERS) as r:
            return decode(await r.read())

    async def raw_httpx() -> Any:
        r = await hx.post(f"{url}/uppercase", content=BODY, headers=HEADERS)
        return decode(r.content)

    async def kit_endpoint() -> Any:
        return await endpoint({"s": "hello, world"})

    async def kit_connect() -> Any:
        return await remote.uppercase("hello, world")

    contenders: dict[str, Call] = {
        "raw aiohttp": raw_aiohttp,
        "raw httpx": raw_httpx,
        "kit ClientEndpoint": kit_endpoint,
        "kit connect()": kit_connect,
    }
    rates: Rates = {}
    try:
        for r in range(rounds):
            for concurrency in CONCURRENCY:
                for name, call in contenders.items():
                    value = await rate(call, concurrency, SECONDS)
                    rates.setdefault((name, concurrency), []).append(value)
                    print(f"round {r + 1}: {name:20} c={concurrency:<3} {value:8.0f}/s", flush=True)
    finally:
        await session.close()
        await hx.aclose()
        await endpoint.close()
        await close(remote)
    return rates


def report(rates: Rates, rounds: int, stolen: float) -> str:
    names = ["raw aiohttp", "raw httpx", "kit ClientEndpoint", "kit connect()"]
    best = {key: max(values) for key, values in rates.items()}
    lines = [
        "### Client",
        "",
        f"{machine()}; kit-http on uvicorn as the server, calls/s with msgspec decoding, "
        f"{SECONDS:g} s per run, best of {rounds} interleaved rounds. The 2-core machine "
        "was shared with other engineers' work: absolute rates vary a lot between runs, "
        "compare the ratios of one run. Each ratio: best against best, and in brackets "
        "the median of the same round's ratios (less moved by one lucky or unlucky run). "
        f"The hypervisor took {stolen:.0%} of the CPU time during this run (steal).",
        "",
        "| client | "
        + " | ".join(f"{c} caller{'s' if c > 1 else ''}" for c in CONCURRENCY)
        + " | vs the faster raw client (target >= 0.90x) |",
        "|---|" + "---|" * len(CONCURRENCY) + "---|",
    ]
    for name in names:
        cells = [f"{best[name, c]:,.0f}/s" for c in CONCURRENCY]
        if name.startswith("kit"):
            ratios = []
            for c in CONCURRENCY:
                faster = max(best["raw aiohttp", c], best["raw httpx", c])
                same_round = statistics.median(
                    kit / max(a, x)
                    for kit, a, x in zip(
                        rates[name, c], rates["raw aiohttp", c], rates["raw httpx", c], strict=True
                    )
                )
                ratios.append(f"{best[name, c] / faster:.2f}x ({same_round:.2f}x)")
            ratio = " / ".join(ratios)
        else:
            ratio = "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with serving("uvicorn", "kit") as running:
        port = running.port
        pin(LOAD_CPU)
        import uvloop

        ticks, start = steal(), time.monotonic()
        rates = uvloop.run(measure(f"http://127.0.0.1:{port}", rounds))
        cpu_seconds = (time.monotonic() - start) * (os.cpu_count() or 1)
        stolen = (steal() - ticks) / os.sysconf("SC_CLK_TCK") / cpu_seconds
    body = report(rates, rounds, stolen)
    write_subsection("http-client", body)
    print(body)


if __name__ == "__main__":
    main()
