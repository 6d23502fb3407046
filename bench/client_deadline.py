"""What the deadline costs a kit-http ClientEndpoint over the network, part by part.

    .venv/bin/python bench/client_deadline.py

The server (kit-http on uvicorn) pinned to CPU 0, this process to CPU 1; one
ClientEndpoint calls POST /uppercase with no deadline, with one (the ``Kit-Timeout``
header, so a timer on the server, and a timer on the client), with the header only
(the client's ``bounded`` replaced by a plain await) and with the client's timer only
(no header sent). Best of 3 interleaved rounds of 2 s; prints each as a ratio to no
deadline.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _http import LOAD_CPU, pin, serving
from http_client import rate


async def measure(url: str) -> None:
    import kit_http.client as http_client

    from kitcore import context

    endpoint = http_client.ClientEndpoint("POST", f"{url}/uppercase", response_type=str)
    bounded, headers = http_client.bounded, http_client.deadline_headers

    async def no_timer(send: Awaitable[Any], left: float | None, capped: bool) -> Any:
        return await send

    def no_header(headers: dict[str, str], cap: float | None) -> tuple[float | None, bool]:
        return context.remaining(), False

    async def plain() -> Any:
        return await endpoint({"s": "hello, world"})

    async def within() -> Any:
        with context.timeout(10):
            return await endpoint({"s": "hello, world"})

    variants: dict[str, tuple[Callable[[], Awaitable[Any]], Any, Any]] = {
        "no deadline": (plain, bounded, headers),
        "deadline": (within, bounded, headers),
        "header only": (within, no_timer, headers),
        "client's timer only": (within, bounded, no_header),
    }
    best: dict[tuple[str, int], float] = {}
    try:
        for _ in range(3):
            for callers in (1, 16):
                for name, (call, bound, head) in variants.items():
                    http_client.bounded, http_client.deadline_headers = bound, head
                    value = await rate(call, callers, 2.0)
                    best[name, callers] = max(best.get((name, callers), 0.0), value)
    finally:
        http_client.bounded, http_client.deadline_headers = bounded, headers
        await endpoint.close()
    for callers in (1, 16):
        for name in variants:
            ratio = best[name, callers] / best["no deadline", callers]
            print(f"{callers:>2} caller(s)  {name:20} {best[name, callers]:8.0f}/s  {ratio:.2f}x")


def main() -> None:
    with serving("uvicorn", "kit") as running:
        pin(LOAD_CPU)
        import uvloop

        uvloop.run(measure(f"http://127.0.0.1:{running.port}"))


if __name__ == "__main__":
    main()
