"""kit-http's server against a bare ASGI app, FastAPI and Go kit, on each ASGI server.

    .venv/bin/python bench/http_server.py [ROUNDS]    # needs wrk (apt-get install wrk)

For each ASGI server, the kit, bare and FastAPI apps (and Go kit's stringsvc) run side
by side, pinned to CPU 0, and take turns under wrk (1 thread, 64 keep-alive
connections, pinned to CPU 1) for several rounds; each pair's best run is kept, and the
median of same-round ratios is reported too. Writes the "http-server" part of
BENCHMARKS.md.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _http import go_anchor, serving, write_subsection, wrk
from _report import machine

SERVERS = ("uvicorn", "granian", "granian-rsgi", "hypercorn")
APPS = ("kit", "bare", "fastapi")
SERVED = {"granian-rsgi": {"kit": "kit", "bare": "bare_rsgi"}}
"""Which app of bench/http_apps.py plays each part, where not the part's own name."""


def apps_of(server: str) -> dict[str, str]:
    """Part -> app name for ``server`` (FastAPI has no RSGI form)."""
    return SERVED.get(server, {a: a for a in APPS})


WARMUP, SECONDS = 2, 3

Runs = dict[tuple[str, str], list[float]]


def measure(rounds: int) -> Runs:
    """Requests/s of every run of every (server, app) pair, rounds interleaved.

    All the apps of one server run at once (idle ones cost nothing) and take turns under
    wrk, so that a burst of load from elsewhere on the machine hits them alike.
    """
    runs: Runs = {}
    with contextlib.ExitStack() as stack:
        go = stack.enter_context(serving("go", "gokit")) if go_anchor() else None
        for server in SERVERS:
            with contextlib.ExitStack() as apps:
                running = {
                    part: apps.enter_context(serving(server, app))
                    for part, app in apps_of(server).items()
                }
                if go is not None:
                    running["gokit"] = go
                for s in running.values():
                    wrk(s.port, WARMUP)
                for r in range(rounds):
                    for app, s in running.items():
                        rps = wrk(s.port, SECONDS)
                        key = ("go", app) if app == "gokit" else (server, app)
                        runs.setdefault(key, []).append(rps)
                        print(
                            f"{server:9} round {r + 1}: {key[0]:9} {app:8} {rps:8.0f} req/s",
                            flush=True,
                        )
    return runs


def report(runs: Runs, rounds: int) -> str:
    """The Markdown tables: each pair's best run, and the median of same-round ratios."""
    best = {key: max(values) for key, values in runs.items()}

    def median_ratio(server: str, a: str, b: str) -> float:
        return statistics.median(
            x / y for x, y in zip(runs[server, a], runs[server, b], strict=True)
        )

    lines = [
        "### Server throughput",
        "",
        f"{machine()}; wrk -t1 -c64 for {SECONDS} s per run, {rounds} rounds taking turns; "
        "best run shown; one worker process (Go: GOMAXPROCS=1). The machine is shared, so "
        "runs vary: the ratio columns give best/best and, in brackets, the median of the "
        "ratios of runs made in the same round.",
        "",
        "| server | kit-http | bare app | FastAPI | kit / bare (target >= 0.90x) "
        "| kit / FastAPI (target >= 2.5x) |",
        "|---|---|---|---|---|---|",
    ]
    for server in SERVERS:
        kit, bare = best[server, "kit"], best[server, "bare"]
        fast = best.get((server, "fastapi"))
        fast_cells = (
            (
                f"{fast:,.0f} req/s",
                f"{kit / fast:.2f}x ({median_ratio(server, 'kit', 'fastapi'):.2f}x)",
            )
            if fast
            else ("- (no RSGI form)", "-")
        )
        lines.append(
            f"| {server} | {kit:,.0f} req/s | {bare:,.0f} req/s | {fast_cells[0]} "
            f"| {kit / bare:.2f}x ({median_ratio(server, 'kit', 'bare'):.2f}x) "
            f"| {fast_cells[1]} |"
        )
    fastest = max(SERVERS, key=lambda s: best[s, "kit"])
    if ("go", "gokit") in best:
        go = best["go", "gokit"]
        kit = best[fastest, "kit"]
        lines += [
            "",
            "| Go kit stringsvc (anchor) | kit-http on the fastest ASGI server "
            "| kit / Go kit (target >= 0.6x) |",
            "|---|---|---|",
            f"| {go:,.0f} req/s | {kit:,.0f} req/s ({fastest}) | {kit / go:.2f}x |",
        ]
    else:
        lines += ["", "Go kit anchor: not built (no Go toolchain); see bench/_http.py."]
    return "\n".join(lines)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    body = report(measure(rounds), rounds)
    write_subsection("http-server", body)
    print(body)


if __name__ == "__main__":
    main()
