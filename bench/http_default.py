"""What a user gets from ``pip install kit-http``, against Go kit's stringsvc, side by side.

    .venv/bin/python bench/http_default.py [ROUNDS]    # needs wrk (apt-get install wrk)

The contenders are started exactly as a user starts them, with no tuning flags:
``python -m examples.stringsvc1`` and ``kit serve bench.http_apps:kit`` (both on the
default server), ``kit serve --server uvicorn`` (uvicorn on uvloop and httptools, the
runner-up), and Go kit's stringsvc (GOMAXPROCS=1). Each is pinned to CPU 0 and wrk
(1 thread, 64 connections) to CPU 1; the rounds take turns, the best run of each is
kept, and the median of same-round ratios to Go is shown beside it. Writes the
"http-default" section of BENCHMARKS.md.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _http import BIN, GO_BINARY, ROOT, SERVER_CPU, free_port, go_anchor, pin, wait_port, wrk
from _report import machine, write_section

WARMUP, SECONDS = 2, 3


def commands(port: int) -> dict[str, list[str]]:
    """Each contender's command line, listening on ``port``."""
    listen = f"127.0.0.1:{port}"
    kit = str(BIN / "kit")
    stringsvc1 = [sys.executable, "-m", "examples.stringsvc1", "--listen", listen]
    return {
        "python -m examples.stringsvc1": stringsvc1,
        "kit serve (default)": [kit, "serve", "bench.http_apps:kit", "--listen", listen],
        "kit serve --server uvicorn": [
            kit, "serve", "bench.http_apps:kit", "--listen", listen, "--server", "uvicorn",
        ],
        "Go kit stringsvc": [str(GO_BINARY), listen],
    }  # fmt: skip


@contextlib.contextmanager
def started(name: str) -> Iterator[int]:
    """Run contender ``name`` pinned to the server CPU; yields its port."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOMAXPROCS": "1"}
    proc = subprocess.Popen(
        commands(port)[name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: pin(SERVER_CPU),
    )
    try:
        wait_port(port)
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(rounds: int) -> None:
    """Measure every contender in turn for ``rounds`` rounds; write the table."""
    if not go_anchor():
        raise SystemExit("Go kit's stringsvc anchor cannot be built here")
    names = list(commands(0))
    runs: dict[str, list[float]] = {name: [] for name in names}
    with contextlib.ExitStack() as stack:
        ports = {name: stack.enter_context(started(name)) for name in names}
        for port in ports.values():
            wrk(port, WARMUP)
        for r in range(rounds):
            for name, port in ports.items():
                runs[name].append(wrk(port, SECONDS))
                print(f"round {r + 1}: {name:30} {runs[name][-1]:8.0f} req/s", flush=True)
    go = runs["Go kit stringsvc"]
    lines = [
        "### The default server against Go kit",
        "",
        f"{machine()}; wrk -t1 -c64 for {SECONDS} s per run, {rounds} rounds taking turns, "
        "each server pinned to one CPU (Go: GOMAXPROCS=1), wrk on the other. The machine is "
        "shared by several engineers, so runs vary: best run shown, and in brackets the "
        "median of same-round ratios.",
        "",
        "| contender (as a user starts it) | best | / Go kit (target >= 0.6x) |",
        "|---|---|---|",
    ]
    for name in names:
        ratio = max(runs[name]) / max(go)
        median = statistics.median(x / y for x, y in zip(runs[name], go, strict=True))
        lines.append(f"| {name} | {max(runs[name]):,.0f} req/s | {ratio:.2f}x ({median:.2f}x) |")
    write_section("http-default", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 6)
