"""kit's own cost per client call, with the network taken out.

    .venv/bin/python bench/client_overhead.py

kit-http's ``Transport.send`` is replaced by one that yields once and returns a canned
reply, so what is timed is kit alone: building the request, Retry, the balancer, the
attempt timeout, the deadline header and scope, decoding. One process, contenders
interleaved, best of 7 runs of 20,000 sequential calls each; microseconds per call.
Also ``asyncio.timeout`` (the scope ``context.enforce`` opens) around one
``asyncio.sleep(0)``. Prints a Markdown table.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RUNS, CALLS = 7, 20_000


async def main() -> None:
    import kit_http.client as http_client
    from multidict import CIMultiDict

    from bench.http_apps import StringService
    from kitcore import close, connect, context
    from kitcore.lb import RoundRobin

    reply = http_client.Reply(200, CIMultiDict(), b'"HELLO, WORLD"')

    async def canned(self: Any, method: str, url: str, headers: Any, body: Any) -> Any:
        await asyncio.sleep(0)
        return reply

    http_client.Transport.send = canned  # type: ignore[method-assign]
    url = "http://127.0.0.1:9"
    endpoint = http_client.ClientEndpoint("POST", f"{url}/uppercase", response_type=str)
    off: dict[str, Any] = {
        "attempt_timeout": False,
        "retry_budget": False,
        "outliers": False,
        "balancer": RoundRobin,
        "hedge": None,
    }
    bare = connect(StringService, url, **off)
    full = connect(StringService, url)

    async def sleep0() -> None:
        await asyncio.sleep(0)

    async def with_asyncio_timeout() -> None:
        async with asyncio.timeout(10):
            await sleep0()

    async def plain() -> Any:
        return await endpoint({"s": "hello, world"})

    async def deadline() -> Any:
        with context.timeout(10):
            return await endpoint({"s": "hello, world"})

    async def connect_bare() -> Any:
        return await bare.uppercase("hello, world")

    async def connect_full() -> Any:
        return await full.uppercase("hello, world")

    contenders: dict[str, Callable[[], Awaitable[Any]]] = {
        "asyncio.sleep(0) alone": sleep0,
        "... in asyncio.timeout": with_asyncio_timeout,
        "ClientEndpoint": plain,
        "ClientEndpoint in context.timeout(10)": deadline,
        "connect(), every part off but the deadline": connect_bare,
        "connect() with its defaults": connect_full,
    }
    best = {name: float("inf") for name in contenders}
    for _ in range(RUNS):
        for name, call in contenders.items():
            start = time.perf_counter()
            for _ in range(CALLS):
                await call()
            best[name] = min(best[name], (time.perf_counter() - start) / CALLS * 1e6)
    await endpoint.close()
    await close(bare)
    await close(full)
    print("| contender | us per call |\n|---|---|")
    for name, us in best.items():
        print(f"| {name} | {us:.1f} |")


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
