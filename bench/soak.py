"""Soak: stringsvc3's proxy under steady load while its instances and discovery fail.

    .venv/bin/python bench/soak.py [REQUESTS] [RATE]   (defaults: 100000 at 150/s)

A real etcd (Debian's, on free ports) is the discovery server. Four stringsvc3
instances register there on 2 s leases (``bench/_soak_stringsvc3.py`` runs stringsvc3
with a registrar thread, so each registration lives and dies with its process);
stringsvc3's proxy (``stringsvc3 --proxy etcd://...``) follows them and answers
``POST /uppercase`` through its per-instance breaker and limiter, RoundRobin and Retry.
This process sends REQUESTS calls at RATE a second (open loop: a slow answer does not
slow the sender) and, along the way:

- at 10 % SIGKILLs instance 1 (its lease runs out; until then the proxy still picks it);
- at 35 % SIGSTOPs instance 2 (hung: it accepts and never answers), at 45 % resumes it;
- at 60 % stops etcd for 5 s and starts it again on the same ports and data.

It reports failed calls (target 0), latency percentiles, and the proxy's RSS, open fds
and asyncio tasks after warm-up and after the run, with its longest event-loop stall
and garbage collection in each period (tasks, stalls and collections come from a
SIGUSR1 handler ``bench/_soak_stringsvc3.py`` installs): a failed call in a period
without a stall of the proxy was its instances answering late. Writes the "soak" part
of BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _http import free_port, percentile, wait_port
from _report import machine, write_section

from kitcore.testing.servers import etcd_server

ROOT = Path(__file__).resolve().parent.parent

INSTANCES = 4
WARMUP = 2_000
"""Calls before the first reading (fewer in a short run: a twentieth of them)."""
TTL = 2
BODY = b'{"s":"hello, world"}'


@contextmanager
def process(argv: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` with output to ``log``; SIGCONT then SIGTERM (then SIGKILL) at the end."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **env}
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def usage(pid: int, stats: Path) -> dict[str, Any]:
    """The proxy's RSS (KiB), open fds and asyncio tasks right now, and its longest
    event-loop stall and garbage collection (ms) since the last reading."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    stats.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while not stats.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    answer = json.loads(stats.read_text()) if stats.exists() else {}
    return {
        "rss_kib": rss,
        "fds": fds,
        "tasks": answer.get("tasks", -1),
        "stall_ms": answer.get("stall_ms", -1),
        "gc_ms": answer.get("gc_ms", -1),
    }


class Load:
    """Open-loop calls at a fixed rate; each call's latency and outcome."""

    def __init__(self, url: str, total: int, rate: float) -> None:
        self.url, self.total, self.rate = url, total, rate
        self.latencies: list[float] = []
        self.failures: collections.Counter[str] = collections.Counter()
        self.failure_times: list[tuple[int, str]] = []
        self.sent = 0

    async def run(self, events: dict[int, Any]) -> None:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=10)
        connector = aiohttp.TCPConnector(limit=256)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            start = time.perf_counter()
            pending: set[asyncio.Task[None]] = set()
            for n in range(self.total):
                if n in events:
                    await events[n]()
                    # The schedule restarts after an action, so that it is not followed
                    # by a burst of the calls it held up.
                    start = time.perf_counter() - n / self.rate
                due = start + n / self.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.ensure_future(self.one(session, n))
                pending.add(task)
                task.add_done_callback(pending.discard)
                self.sent += 1
            await asyncio.gather(*pending)

    async def one(self, session: Any, n: int) -> None:
        headers = {"Content-Type": "application/json"}
        began = time.perf_counter()
        try:
            async with session.post(self.url, data=BODY, headers=headers) as reply:
                body = await reply.read()
                ok = reply.status == 200 and body == b'{"v":"HELLO, WORLD"}'
                outcome = "ok" if ok else f"{reply.status} {body[:120]!r}"
        except Exception as exc:  # the soak counts every way a call can fail
            outcome = f"{type(exc).__name__}: {exc}"
        if outcome == "ok":
            self.latencies.append(time.perf_counter() - began)
        else:
            self.failures[outcome] += 1
            self.failure_times.append((n, outcome))


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 150.0
    python = sys.executable
    with ExitStack() as stack:
        logs = Path(tempfile.mkdtemp(prefix="kit-soak-"))
        etcd = stack.enter_context(etcd_server())
        sd_url = f"etcd://{etcd.url}/services/soak-{uuid.uuid4().hex[:8]}"
        stringsvc3 = [python, str(ROOT / "bench" / "_soak_stringsvc3.py")]
        instances = []
        for i in range(INSTANCES):
            port = free_port()
            address = f"127.0.0.1:{port}"
            proc = stack.enter_context(
                process(
                    [*stringsvc3, "--listen", address],
                    logs / f"instance{i + 1}.log",
                    {"KIT_SOAK_REGISTER": f"{sd_url}?ttl={TTL} {address}"},
                )
            )
            instances.append((port, proc))
        for port, _ in instances:
            wait_port(port)
        proxy_port = free_port()
        stats = logs / "proxy-stats.json"
        proxy = stack.enter_context(
            process(
                [*stringsvc3, "--listen", f"127.0.0.1:{proxy_port}", "--proxy", sd_url],
                logs / "proxy.log",
                {"KIT_SOAK_STATS": str(stats)},
            )
        )
        wait_port(proxy_port)
        time.sleep(1.0)  # the proxy's instancer has its first answer
        url = f"http://127.0.0.1:{proxy_port}/uppercase"
        print(f"logs in {logs}; {total} calls at {rate:g}/s", flush=True)

        before: dict[str, Any] = {}
        timeline: list[str] = []

        warmup = min(WARMUP, total // 20)

        def at(fraction: float) -> int:
            return max(warmup + 1, int(total * fraction))

        async def warmed() -> None:
            before.update(usage(proxy.pid, stats))
            print(f"after warm-up: {before}", flush=True)

        async def kill() -> None:
            instances[0][1].kill()
            timeline.append(f"call {load.sent}: SIGKILL instance 1")

        async def stop() -> None:
            instances[1][1].send_signal(signal.SIGSTOP)
            timeline.append(f"call {load.sent}: SIGSTOP instance 2")

        async def resume() -> None:
            instances[1][1].send_signal(signal.SIGCONT)
            timeline.append(f"call {load.sent}: SIGCONT instance 2")

        async def restart_etcd() -> None:
            timeline.append(f"call {load.sent}: etcd stopped")
            await asyncio.to_thread(etcd.stop)
            await asyncio.sleep(5.0)
            await asyncio.to_thread(etcd.start)
            timeline.append(f"call {load.sent}: etcd started again")

        events = {
            warmup: warmed,
            at(0.10): kill,
            at(0.35): stop,
            at(0.45): resume,
            at(0.60): restart_etcd,
        }
        load = Load(url, total, rate)
        began = time.perf_counter()
        asyncio.run(load.run(events))
        took = time.perf_counter() - began
        time.sleep(2.0)  # connections and tasks of the last calls wind down
        after = usage(proxy.pid, stats)
        print(f"after the run: {after}", flush=True)

    failed = sum(load.failures.values())
    lat = sorted(load.latencies)
    for line in timeline:
        print(line)
    for outcome, count in load.failures.most_common(10):
        print(f"failed {count}: {outcome}")
    for n, outcome in load.failure_times[:20]:
        print(f"  call {n}: {outcome}")
    body = report(total, rate, took, failed, load.failures, lat, before, after, timeline)
    write_section("soak", body)
    print(body)


def report(
    total: int,
    rate: float,
    took: float,
    failed: int,
    failures: collections.Counter[str],
    lat: list[float],
    before: dict[str, Any],
    after: dict[str, Any],
    timeline: list[str],
) -> str:
    ms = [f"{percentile(lat, q) * 1000:.1f} ms" if lat else "-" for q in (0.50, 0.99, 0.999)]
    lines = [
        "## Soak: stringsvc3's proxy through failures",
        "",
        f"{machine()}, the 2-core machine shared with other engineers' work; "
        f"`bench/soak.py {total} {rate:g}`: {total:,} calls at {rate:g}/s "
        f"({took:.0f} s) through `python -m examples.stringsvc3 --proxy etcd://...` to "
        f"{INSTANCES} stringsvc3 instances registered in etcd ({TTL} s leases).",
        "",
        "Events: " + "; ".join(timeline) + ".",
        "",
        "| failed calls | p50 | p99 | p99.9 |",
        "|---|---|---|---|",
        f"| {failed} | {ms[0]} | {ms[1]} | {ms[2]} |",
        "",
        "| proxy | after warm-up | after the run |",
        "|---|---|---|",
        f"| RSS | {before['rss_kib'] / 1024:.1f} MiB | {after['rss_kib'] / 1024:.1f} MiB |",
        f"| open fds | {before['fds']} | {after['fds']} |",
        f"| asyncio tasks | {before['tasks']} | {after['tasks']} |",
        f"| longest event-loop stall | {before['stall_ms']:.0f} ms | {after['stall_ms']:.0f} ms |",
        f"| longest garbage collection | {before['gc_ms']:.0f} ms | {after['gc_ms']:.0f} ms |",
        "",
        "Stalls and collections are the longest in the period up to each reading: the "
        "first from the proxy's start (once serving) to the warm-up, the second from there "
        "to the end; a stall is how late the proxy's 10 ms timer fired. Tasks include that "
        "timer's.",
    ]
    if failures:
        lines += ["", "Failed calls by outcome:", ""]
        lines += [f"- {count}: `{outcome}`" for outcome, count in failures.most_common(5)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
