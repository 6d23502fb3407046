"""Latency distribution at a fixed, moderate request rate: kit-http, bare ASGI, FastAPI, Go kit.

    .venv/bin/python bench/http_latency.py [RATE]

An open-loop generator (bench/_http.py) sends POST /uppercase at RATE requests/s
(default 1000: well under every contender's capacity) over 32 keep-alive connections
for 10 s; each answer is timed from the instant its request was issued, a wait for a
free connection included, so a stall is charged to the requests it delays.
Writes the "http-latency" part of BENCHMARKS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _http import (
    LOAD_CPU,
    fixed_rate,
    go_anchor,
    percentile,
    pin,
    serving,
    write_subsection,
)
from _report import machine

SECONDS = 10.0
CONTENDERS = [
    ("uvicorn", "kit"),
    ("uvicorn", "bare"),
    ("uvicorn", "fastapi"),
    ("granian-rsgi", "kit"),
    ("granian-rsgi", "bare_rsgi"),
]


def main() -> None:
    rate = float(sys.argv[1]) if len(sys.argv) > 1 else 1000.0
    pin(LOAD_CPU)
    contenders = CONTENDERS + ([("go", "gokit")] if go_anchor() else [])
    rows = []
    for server, app in contenders:
        with serving(server, app) as running:
            port = running.port
            fixed_rate(port, rate, 1.0)  # warm-up
            latencies = fixed_rate(port, rate, SECONDS)
        p50, p99, p999 = (percentile(latencies, q) * 1e3 for q in (0.5, 0.99, 0.999))
        rows.append((f"{app} ({server})", p50, p99, p999, max(latencies) * 1e3))
        print(rows[-1], flush=True)
    lines = [
        "### Latency at a fixed rate",
        "",
        f"{machine()}; {rate:g} req/s for {SECONDS:g} s over 32 connections, open loop "
        "(each request issued on schedule and timed from then, waits for a free connection "
        "included).",
        "",
        "| app (server) | p50 | p99 | p99.9 | max |",
        "|---|---|---|---|---|",
    ]
    for name, p50, p99, p999, top in rows:
        lines.append(f"| {name} | {p50:.2f} ms | {p99:.2f} ms | {p999:.2f} ms | {top:.2f} ms |")
    body = "\n".join(lines)
    write_subsection("http-latency", body)
    print(body)


if __name__ == "__main__":
    main()
