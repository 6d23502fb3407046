"""kit-statsd throughput: metrics per second sent to a local UDP reader, and what arrived.

.venv/bin/python bench/metrics_statsd.py   # writes the "statsd" section of BENCHMARKS.md

A reader process binds a UDP socket on 127.0.0.1 and counts the lines it receives. The
sender records one labelled counter as fast as it can (then at lower fixed rates if
anything was lost) and compares the count the reader got with the count it sent. The
datadog library's buffered DogStatsd client, doing the same, is measured as a baseline.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import best_of, machine, write_section
from kit_statsd import DogStatsdProvider, StatsdProvider

N = 400_000

Row = tuple[str, tuple[float, int, int, int]]

READER = r"""
import select, socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if int(sys.argv[1]):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(sys.argv[1]))
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF), flush=True)
lines = datagrams = 0
while True:
    ready, _, _ = select.select([sock, sys.stdin], [], [])
    if sock in ready:
        data = sock.recv(65535)
        lines += data.count(b"\n") + (not data.endswith(b"\n"))
        datagrams += 1
    elif sys.stdin in ready:
        command = sys.stdin.readline().strip()
        if not command:
            break
        sock.setblocking(False)
        try:
            while True:
                data = sock.recv(65535)
                lines += data.count(b"\n") + (not data.endswith(b"\n"))
                datagrams += 1
        except BlockingIOError:
            pass
        sock.setblocking(True)
        print(lines, datagrams, flush=True)
        lines = datagrams = 0
"""


class Reader:
    """The counting UDP reader, in a process of its own (the machine has two cores)."""

    def __init__(self, receive_buffer: int = 8 << 20) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", READER, str(receive_buffer)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        port, buffer = self.proc.stdout.readline().split()
        self.port, self.buffer = int(port), int(buffer)

    def count(self) -> tuple[int, int]:
        """Lines and datagrams received since the last count."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        time.sleep(0.3)  # let the reader drain what is in flight
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        lines, datagrams = self.proc.stdout.readline().split()
        return int(lines), int(datagrams)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def paced(record: Callable[[], None], total: int, rate: float | None) -> float:
    """Call ``record`` ``total`` times, at ``rate`` per second (None: flat out); seconds taken."""
    start = time.perf_counter()
    if rate is None:
        for _ in range(total):
            record()
        return time.perf_counter() - start
    batch = 500
    for done in range(0, total, batch):
        for _ in range(batch):
            record()
        ahead = (done + batch) / rate - (time.perf_counter() - start)
        if ahead > 0:
            time.sleep(ahead)
    return time.perf_counter() - start


def kit_run(reader: Reader, rate: float | None, dog: bool = False) -> tuple[float, int, int, int]:
    """Send N counter increments with kit; (rate achieved, sent, received, datagrams)."""
    kind = DogStatsdProvider if dog else StatsdProvider
    provider = kind(port=reader.port, prefix="bench", flush_interval=1.0)
    counter = provider.counter("requests", "", ("endpoint", "error"))

    def record() -> None:
        counter.with_labels(endpoint="uppercase", error="none").add()

    seconds = paced(record, N, rate)
    provider.close()
    received, datagrams = reader.count()
    stats = provider.stats()
    assert stats.lines_sent + stats.lines_dropped == N
    return N / seconds, N, received, datagrams


def datadog_client(kind: Any, port: int) -> Any:
    """datadog's DogStatsd, buffered, without its own telemetry lines (they would count)."""
    return kind(
        host="127.0.0.1",
        port=port,
        namespace="bench",
        disable_buffering=False,
        disable_telemetry=True,
    )


def datadog_stop(client: Any) -> None:
    """Flush and stop the datadog client's threads and socket."""
    if hasattr(client, "stop"):
        client.stop()
    else:
        client.flush()
        client.close_socket()


def datadog_run(reader: Reader) -> tuple[float, int, int, int] | None:
    """The same with datadog's buffered DogStatsd client, if installed."""
    try:
        from datadog.dogstatsd.base import DogStatsd
    except ImportError:
        return None
    client = datadog_client(DogStatsd, reader.port)
    tags = ["endpoint:uppercase", "error:none"]

    def record() -> None:
        client.increment("requests", tags=tags)

    seconds = paced(record, N, None)
    datadog_stop(client)
    received, datagrams = reader.count()
    return N / seconds, N, received, datagrams


def per_call_ns(reader: Reader) -> tuple[float, float | None]:
    """Best per-call cost of one labelled DogStatsD increment: kit vs datadog."""
    provider = DogStatsdProvider(port=reader.port, prefix="bench")
    counter = provider.counter("requests", "", ("endpoint", "error"))
    kit_t = best_of(
        lambda: counter.with_labels(endpoint="uppercase", error="none").add(), number=50_000
    )
    provider.close()
    dd_t = None
    try:
        from datadog.dogstatsd.base import DogStatsd
    except ImportError:
        pass
    else:
        client = datadog_client(DogStatsd, reader.port)
        tags = ["endpoint:uppercase", "error:none"]
        dd_t = best_of(lambda: client.increment("requests", tags=tags), number=50_000)
        datadog_stop(client)
    reader.count()
    return kit_t * 1e9, None if dd_t is None else dd_t * 1e9


def loss_search(reader: Reader, label: str) -> tuple[list[Row], str]:
    """Flat out, then paced 20% slower each time until nothing is lost; rows and a summary."""
    rows: list[Row] = []
    run = kit_run(reader, None)
    rows.append((f"kit StatsD, flat out, {label}", run))
    if run[2] == run[1]:
        return rows, (
            f"{label}: no loss at the highest rate the sender reaches, {run[0]:,.0f} metrics/s."
        )
    first_loss, rate = run[0], run[0]
    while rate > 10_000:
        rate *= 0.8
        run = kit_run(reader, rate)
        rows.append((f"kit StatsD, paced at {rate:,.0f}/s, {label}", run))
        if run[2] == run[1]:
            return rows, (
                f"{label}: loss starts by {first_loss:,.0f} metrics/s; the highest rate "
                f"without loss was {run[0]:,.0f} metrics/s."
            )
        first_loss = run[0]
    return rows, f"{label}: loss at every rate tried, down to {rate:,.0f} metrics/s."


def main() -> None:
    summaries = []
    reader = Reader()
    try:
        label = f"{reader.buffer:,}-byte receive buffer"
        rows, summary = loss_search(reader, label)
        summaries.append(summary)
        rows.append((f"kit DogStatsD (tags), flat out, {label}", kit_run(reader, None, dog=True)))
        baseline = datadog_run(reader)
        if baseline is not None:
            rows.append((f"datadog DogStatsd (buffered), flat out, {label}", baseline))
        kit_ns, dd_ns = per_call_ns(reader)
    finally:
        reader.close()
    small = Reader(receive_buffer=0)  # the system default, as a daemon would have
    try:
        more, summary = loss_search(small, f"default {small.buffer:,}-byte receive buffer")
        rows += more
        summaries.append(summary)
    finally:
        small.close()

    lines = [
        "## kit-statsd",
        "",
        machine(),
        "",
        f"{N:,} increments of one labelled counter "
        '(`counter.with_labels(endpoint="uppercase", error="none").add()`), default '
        "1,432-byte datagrams, to a counting UDP reader in another process on 127.0.0.1. "
        "Loss is the reader's socket buffer overflowing while the reader waits for a core "
        "(the machine has two, shared by sender and reader).",
        "",
        "| sender | metrics/s sent | sent | received | lost | datagrams |",
        "|---|---|---|---|---|---|",
    ]
    for what, (achieved, sent, got, datagrams) in rows:
        lines.append(
            f"| {what} | {achieved:,.0f} | {sent:,} | {got:,} | {sent - got:,} | {datagrams:,} |"
        )
    lines.append("")
    lines += [f"- {summary}" for summary in summaries]
    lines += [
        "",
        "| per call, one labelled DogStatsD increment | kit-statsd | datadog DogStatsd | ratio |",
        "|---|---|---|---|",
        f"| `with_labels(...).add()` vs `increment(..., tags=...)` | {kit_ns:.0f} ns | "
        + (f"{dd_ns:.0f} ns | {kit_ns / dd_ns:.2f}x |" if dd_ns else "not installed | - |"),
    ]
    body = "\n".join(lines)
    print(body)
    write_section("statsd", body)


if __name__ == "__main__":
    main()
