"""Shared by the HTTP benchmarks: servers pinned to a CPU, wrk, a fixed-rate load generator.

On the 2-core machine the server under test runs pinned to CPU 0 and the load
generator (wrk, or the Python client being measured) to CPU 1, so each has one core and
the two never compete; every contender is measured the same way in the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from _report import BENCHMARKS, HEADER, write_section

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SERVER_CPU, LOAD_CPU = 0, 1
GO_ANCHOR = Path("/work/shared/anchors/gokit-stringsvc/build.sh")
GO_BINARY = Path(tempfile.gettempdir()) / "gokit-stringsvc"
BODY = b'{"s":"hello, world"}'
SUBSECTIONS = ("http-server", "http-latency", "http-client")


def pin(cpu: int) -> None:
    """Pin the calling process to ``cpu`` when the machine has it (Linux)."""
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    """Wait until 127.0.0.1:``port`` accepts connections."""
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {port}") from None
            time.sleep(0.05)


def server_command(server: str, app: str, port: int) -> list[str]:
    """The command serving ``bench.http_apps:<app>`` on ``server`` with production flags."""
    target = f"bench.http_apps:{app}"
    if server == "uvicorn":
        return [
            str(BIN / "uvicorn"),
            target,
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    if server in ("granian", "granian-rsgi"):
        return [
            str(BIN / "granian"),
            "--interface",
            "rsgi" if server == "granian-rsgi" else "asgi",
            "--workers",
            "1",
            "--runtime-threads",
            "1",
            "--loop",
            "uvloop",
            "--no-ws",
            "--port",
            str(port),
            "--log-level",
            "warning",
            target,
        ]
    if server == "hypercorn":
        return [
            str(BIN / "hypercorn"),
            "--worker-class",
            "uvloop",
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--bind",
            f"127.0.0.1:{port}",
            target,
        ]
    if server == "go":
        return [str(GO_BINARY), f"127.0.0.1:{port}"]
    raise ValueError(server)


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and all its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After "(comm)": state ppid ... utime (11) stime (12), counted from state = 0.
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == current]
    return total


class Server:
    """A running server: its port and process id."""

    def __init__(self, port: int, pid: int) -> None:
        self.port = port
        self.pid = pid

    def cpu(self) -> float:
        """CPU seconds its processes have used so far."""
        return cpu_seconds(self.pid)


@contextlib.contextmanager
def pinned(command: Sequence[str], ports: Sequence[int]) -> Iterator[int]:
    """Run ``command`` pinned to the server CPU until ``ports`` accept; yields its pid;
    stops it (SIGINT, then kill) after."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOMAXPROCS": "1"}
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: pin(SERVER_CPU),
    )
    try:
        for port in ports:
            wait_port(port)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def serving(server: str, app: str) -> Iterator[Server]:
    """Run one server pinned to the server CPU; yields it; stops it after."""
    port = free_port()
    with pinned(server_command(server, app, port), [port]) as pid:
        yield Server(port, pid)


def go_anchor() -> bool:
    """Build Go kit's stringsvc anchor once (Debian's Go and go-kit); False if impossible."""
    if GO_BINARY.exists():
        return True
    if not GO_ANCHOR.exists():
        return False
    result = subprocess.run(["sh", str(GO_ANCHOR), str(GO_BINARY)], capture_output=True)
    return result.returncode == 0 and GO_BINARY.exists()


_LUA = """wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
"""


class Load:
    """What one wrk run measured: requests/s, and requests per server CPU-second."""

    def __init__(self, rps: float, requests: int, cpu: float) -> None:
        self.rps = rps
        self.requests = requests
        self.cpu = cpu

    @property
    def per_cpu_second(self) -> float:
        """Requests served per CPU-second the server used: its cost, whatever the neighbours."""
        return self.requests / self.cpu if self.cpu > 0 else 0.0


def load(server: Server, seconds: int, connections: int = 64) -> Load:
    """Load ``server`` with wrk; measure throughput and the server's CPU time."""
    before = server.cpu()
    rps, requests = wrk_run(server.port, seconds, connections)
    return Load(rps, requests, server.cpu() - before)


def wrk(port: int, seconds: int, connections: int = 64) -> float:
    """Requests per second wrk reaches on POST /uppercase (every answer must be 2xx)."""
    return wrk_run(port, seconds, connections)[0]


def wrk_run(port: int, seconds: int, connections: int = 64) -> tuple[float, int]:
    """wrk's requests/s and total requests on POST /uppercase (all answers must be 2xx)."""
    exe = shutil.which("wrk")
    if exe is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_LUA.format(body=BODY.decode()))
    try:
        out = subprocess.run(
            [
                exe,
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "-s",
                f.name,
                f"http://127.0.0.1:{port}/uppercase",
            ],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=lambda: pin(LOAD_CPU),
        ).stdout
    finally:
        os.unlink(f.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx answers under load:\n{out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rps is None or total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return float(rps.group(1)), int(total.group(1))


REQUEST = (
    b"POST /uppercase HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


async def _fixed_rate(port: int, rate: float, seconds: float, connections: int) -> list[float]:
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors: list[str] = []

    async def one(due: float) -> None:
        # Timed from when the request is issued (uvloop's timers may wake up to 1 ms after
        # ``due``), waiting for a free connection included.
        issued = time.perf_counter()
        reader, writer = await pool.get()
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - issued)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(head.split(b"\r\n", 1)[0].decode())
        pool.put_nowait((reader, writer))

    tasks = []
    start = time.perf_counter() + 0.05
    for i in range(int(rate * seconds)):
        # Each request is due at its own instant whatever happened to the ones before
        # (open loop): a slow answer delays the next ones, and that delay is measured.
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    if errors:
        raise RuntimeError(f"{len(errors)} non-200 answers, e.g. {errors[0]}")
    return latencies


def fixed_rate(port: int, rate: float, seconds: float, connections: int = 32) -> list[float]:
    """Latencies (seconds) of POST /uppercase sent at a fixed ``rate`` for ``seconds``."""
    import uvloop

    return uvloop.run(_fixed_rate(port, rate, seconds, connections))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def write_subsection(name: str, body: str) -> None:
    """Write ``body`` as subsection ``name`` inside the ``http`` section of BENCHMARKS.md."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    if "<!-- http:begin -->" not in text:
        inner = "\n".join(f"<!-- {s}:begin -->\n<!-- {s}:end -->" for s in SUBSECTIONS)
        intro = (
            "## HTTP (kit-http)\n\nServer under test pinned to CPU 0, load generator to "
            'CPU 1; `POST /uppercase` with `{"s":"hello, world"}`; the apps are in '
            "`bench/http_apps.py`. Scripts: `bench/http_server.py`, `bench/http_latency.py`, "
            "`bench/http_client.py`."
        )
        write_section("http", f"{intro}\n\n{inner}")
    write_section(name, body)
