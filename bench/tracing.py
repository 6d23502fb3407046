"""Tracing cost: kit-otel's server span on kit-http vs opentelemetry-instrumentation-asgi,
sampling off, and the client's call + attempt spans; written to BENCHMARKS.md.

In process, no sockets: each request is one call of the ASGI app, so the figures are
the tracing's own cost, not the network's. Spans are made and ended but not exported
(no exporter: the SDK's span processing is the same up to the export queue). Every
variant runs in each round, rounds interleaved; the best round counts (the machine is
shared and noisy).

    python bench/tracing.py
"""

from __future__ import annotations

import asyncio
from typing import Any

from _report import abest_of, machine, write_section
from kit_http import App
from kit_otel import Tracing
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

from kitcore.client import Call
from kitcore.service import describe

ROUNDS = 5
NUMBER = 2000


class StringService:
    """The tutorial's service."""

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s``."""
        return s.upper()


SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/uppercase",
    "raw_path": b"/uppercase",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"10")],
    "server": ("127.0.0.1", 8080),
    "client": ("127.0.0.1", 50000),
}
BODY = {"type": "http.request", "body": b'{"s":"ab"}', "more_body": False}


async def _receive() -> dict[str, Any]:
    return BODY


async def _send(message: dict[str, Any]) -> None:
    pass


def _request(app: Any) -> Any:
    async def one() -> None:
        await app(dict(SCOPE), _receive, _send)

    return one


def main() -> None:
    service = StringService()
    sampled = Tracing(None, sample=1.0)
    off = Tracing(None, sample=0.0)
    apps = {
        "bare": App(service),
        "options": App(  # kit-http's own cost of serving through options
            service,
            before=lambda r: None,
            finalizer=lambda r, s, t: None,
            named_middleware=lambda name: lambda e: e,
        ),
        "kit-otel": App(service, **sampled.http_server(service)),
        "kit-otel off": App(service, **off.http_server(service)),
        "otel-asgi": OpenTelemetryMiddleware(App(service), tracer_provider=sampled.provider),
    }
    method = describe(StringService).methods["uppercase"]
    call = Call(method, method.request("ab"))

    async def endpoint(c: Any) -> str:
        return "AB"

    calls = {
        "bare": endpoint,
        "call+attempt": sampled.call_middleware(service="StringService")(
            sampled.attempt_middleware(service="StringService")(endpoint)
        ),
    }

    async def run() -> dict[str, float]:
        best: dict[str, float] = {}
        for _ in range(ROUNDS):
            for name, app in apps.items():
                t = await abest_of(_request(app), number=NUMBER, repeat=3)
                best[name] = min(best.get(name, t), t)
            for name, ep in calls.items():

                async def one(ep: Any = ep) -> None:
                    await ep(call)

                t = await abest_of(one, number=NUMBER, repeat=3)
                best["client " + name] = min(best.get("client " + name, t), t)
        return best

    best = asyncio.run(run())
    us = {k: v * 1e6 for k, v in best.items()}
    kit_added = us["kit-otel"] - us["bare"]
    asgi_added = us["otel-asgi"] - us["bare"]
    off_added = us["kit-otel off"] - us["bare"]
    client_added = us["client call+attempt"] - us["client bare"]
    options_added = us["options"] - us["bare"]
    body = f"""## Tracing (kit-otel)

`bench/tracing.py`, {machine()}. One in-process ASGI request to a kit-http service
method per call (no sockets), spans made but not exported; best of {ROUNDS} interleaved
rounds of 3 x {NUMBER} calls, on a shared 2-core machine (noisy: read the ratios).

| variant | us per request | added by tracing |
|---|---|---|
| kit-http, no tracing | {us["bare"]:.2f} | - |
| kit-http, no-op before/finalizer/named_middleware | {us["options"]:.2f} | {options_added:.2f} |
| kit-otel server span (sampled) | {us["kit-otel"]:.2f} | {kit_added:.2f} |
| opentelemetry-instrumentation-asgi (sampled) | {us["otel-asgi"]:.2f} | {asgi_added:.2f} |
| kit-otel, sampling off (ratio 0, no caller context) | {us["kit-otel off"]:.2f} | {off_added:.2f} |

kit-otel's added cost / instrumentation-asgi's: **{kit_added / asgi_added:.2f}x** (target <= 0.5x).
Sampling off adds {off_added:.2f} us per request (target <= 1 us); of that, kit-http's
own option path (building a Request, the finalizer frame) is {options_added:.2f} us.

| client | us per call |
|---|---|
| endpoint alone | {us["client bare"]:.2f} |
| call span + attempt span (sampled) | {us["client call+attempt"]:.2f} |

The logical call's span plus one attempt span add {client_added:.2f} us per call.
"""
    print(body)
    write_section("tracing", body)
    sampled.close()
    off.close()


if __name__ == "__main__":
    main()
