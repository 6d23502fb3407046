"""Python addsvc against Go kit's addsvc-nolimit, on HTTP, JSON-RPC and gRPC, side by side.

    .venv/bin/python bench/addsvc.py [ROUNDS] [SECONDS]   # needs wrk and Go kit's anchor

As the anchor's README took its figures: each server with its limiters given a burst
of 2^30 (``python -m examples.addsvc -unlimited``, Go kit's ``addsvc-nolimit``), stderr
to /dev/null (every call still logs two logfmt lines, updates the metrics and passes
limiter and breaker), loaded by ``wrk -t1 -c32`` with the anchor's ``post.lua``: ``POST
/sum {"a":1,"b":2}`` and the JSON-RPC ``sum`` request; gRPC by the anchor's Go load
client ``grpc-load -c 32`` (``pb.Add/Sum`` 1 + 2 over one connection). Both servers run at
once, pinned to CPU 0 (Go with GOMAXPROCS=1), the load pinned to CPU 1; the six pairs take
turns for several rounds, and each pair's best run is kept. Every answer must be a 200
(gRPC: status OK with no ``err``). On gRPC a third server takes its turn: a bare
``grpc.aio`` server of ``pb.Add/Sum`` over the same generated messages, with no kit and no
middleware (``bench/addsvc.py --bare-grpc PORT``), which shows how much of the gap to Go
is grpc's Python server itself. Writes the "addsvc" section of BENCHMARKS.md.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _http import LOAD_CPU, cpu_seconds, free_port, pin, pinned
from _report import machine, write_section

ANCHOR = Path("/work/shared/anchors/gokit-addsvc")
GOKIT = Path(tempfile.gettempdir()) / "kit-gokit-addsvc"
BODIES = {
    "HTTP": ("/sum", '{"a":1,"b":2}'),
    "JSON-RPC": ("/", '{"jsonrpc":"2.0","method":"sum","params":{"a":1,"b":2},"id":1}'),
}
TRANSPORTS = (*BODIES, "gRPC")
CONNECTIONS, WARMUP = 32, 2


class Addsvc:
    """One running addsvc: its ports by transport and its process."""

    def __init__(self, ports: dict[str, int], pid: int) -> None:
        self.ports = ports
        self.pid = pid


@contextlib.contextmanager
def serving(kind: str) -> Iterator[Addsvc]:
    """Run the Python (``python``) or Go kit (``go``) addsvc, or the ``bare`` gRPC server,
    pinned to the server CPU.

    Go kit's addsvc exits on SIGINT as on SIGTERM; ours too.
    """
    debug, http, grpc, jsonrpc = (free_port() for _ in range(4))
    flags = ["-debug.addr", f"127.0.0.1:{debug}", "-http-addr", f"127.0.0.1:{http}"]
    flags += ["-grpc-addr", f"127.0.0.1:{grpc}", "-jsonrpc-addr", f"127.0.0.1:{jsonrpc}"]
    if kind == "bare":
        command = [sys.executable, __file__, "--bare-grpc", str(grpc)]
        with pinned(command, [grpc]) as pid:
            yield Addsvc({"gRPC": grpc}, pid)
        return
    if kind == "go":
        command = [str(GOKIT / "addsvc-nolimit"), *flags]
    else:
        command = [sys.executable, "-m", "examples.addsvc", "-unlimited", *flags]
    with pinned(command, [http, grpc, jsonrpc]) as pid:
        yield Addsvc({"HTTP": http, "JSON-RPC": jsonrpc, "gRPC": grpc}, pid)


def serve_bare_grpc(port: int) -> None:
    """A bare grpc.aio server of ``pb.Add/Sum`` (bytes handlers, as kit's): until killed."""
    import asyncio

    import grpc

    from examples.addsvc import pb

    parse, reply = pb.SumRequest.FromString, pb.SumReply

    async def sum_(data: bytes, context: object) -> bytes:
        request = parse(data)
        return reply(v=request.a + request.b).SerializeToString()  # type: ignore[no-any-return]

    async def main() -> None:
        server = grpc.aio.server()
        handlers = {"Sum": grpc.unary_unary_rpc_method_handler(sum_)}
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(pb.SERVICE, handlers),)
        )
        server.add_registered_method_handlers(pb.SERVICE, handlers)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        await server.wait_for_termination()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def load(port: int, transport: str, seconds: int) -> tuple[float, int]:
    """Calls/s and call count of ``transport``'s sum under load."""
    return grpc_load(port, seconds) if transport == "gRPC" else wrk(port, transport, seconds)


def grpc_load(port: int, seconds: int) -> tuple[float, int]:
    """The anchor's Go ``grpc-load``: calls/s and count (every call OK, no ``err``)."""
    out = subprocess.run(
        [
            str(GOKIT / "grpc-load"),
            "-target",
            f"127.0.0.1:{port}",
            f"-c={CONNECTIONS}",
            f"-d={seconds}s",
            "-warmup=0s",
        ],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: pin(LOAD_CPU),
    ).stdout
    found = re.search(r": ([\d.]+) calls/s\s+map\[(.*?)\]", out)
    if found is None:
        raise RuntimeError(f"cannot read grpc-load's output:\n{out}")
    outcomes = dict(item.split(":") for item in found.group(2).split())
    if set(outcomes) != {"ok"}:
        raise RuntimeError(f"calls that were not OK under load:\n{out}")
    return float(found.group(1)), int(outcomes["ok"])


def wrk(port: int, transport: str, seconds: int) -> tuple[float, int]:
    """wrk's requests/s and request count for ``transport``'s sum (every answer a 200)."""
    exe = shutil.which("wrk")
    if exe is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    path, body = BODIES[transport]
    out = subprocess.run(
        [
            exe,
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "-s",
            str(ANCHOR / "post.lua"),
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "BODY": body},
        preexec_fn=lambda: pin(LOAD_CPU),
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx answers under load:\n{out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rps is None or total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return float(rps.group(1)), int(total.group(1))


def build_gokit() -> None:
    """Build Go kit's binaries once (the tests share the cache)."""
    if not all((GOKIT / name).exists() for name in ("addsvc-nolimit", "grpc-load")):
        subprocess.run(["sh", str(ANCHOR / "build.sh"), str(GOKIT)], check=True)


BARE = "bare grpc.aio"

Runs = dict[tuple[str, str], list[tuple[float, float]]]
"""(server, transport) -> every run's (requests/s, requests per server CPU-second)."""


def measure(rounds: int, seconds: int) -> Runs:
    """Every run of every (server, transport) pair, rounds interleaved."""
    runs: Runs = {}
    with serving("python") as python, serving("go") as go, serving("bare") as bare:
        servers = {"kit": python, "Go kit": go, BARE: bare}
        for server in servers.values():
            for transport in server.ports:
                load(server.ports[transport], transport, WARMUP)
        for r in range(rounds):
            for transport in TRANSPORTS:
                for name, server in servers.items():
                    if transport not in server.ports:
                        continue
                    before = cpu_seconds(server.pid)
                    rps, total = load(server.ports[transport], transport, seconds)
                    cpu = cpu_seconds(server.pid) - before
                    runs.setdefault((name, transport), []).append((rps, total / cpu))
                    print(
                        f"round {r + 1}: {name:12} {transport:8} {rps:8.0f} req/s "
                        f"{total / cpu:8.0f} req/CPU-s",
                        flush=True,
                    )
    return runs


def report(runs: Runs, rounds: int, seconds: int) -> str:
    """The Markdown section."""
    lines = [
        "## addsvc: kit vs Go kit (examples/addsvc)",
        "",
        f"`bench/addsvc.py`: `python -m examples.addsvc -unlimited` and Go kit's "
        f"`addsvc-nolimit` (the anchor's build), both pinned to CPU 0 (Go with "
        f"GOMAXPROCS=1), each call logging two logfmt lines (to /dev/null), updating the "
        f"metrics and passing limiter and breaker; `wrk -t1 -c{CONNECTIONS}` pinned to CPU 1 "
        f"with the anchor's `post.lua`, and for gRPC the anchor's Go `grpc-load "
        f"-c {CONNECTIONS}` (one connection) pinned to CPU 1, sum `1 + 2`; {rounds} "
        f"interleaved rounds of "
        f"{seconds} s, best run of each kept. The machine is shared (2 cores, other "
        f"engineers' work running): figures are noisy, ratios from the same run.",
        "",
        "| transport | kit req/s | Go kit req/s | kit / Go kit "
        "| kit req/CPU-s | Go kit req/CPU-s | kit / Go kit |",
        "|---|---|---|---|---|---|---|",
    ]
    for transport in TRANSPORTS:
        kit = max(runs["kit", transport])
        go = max(runs["Go kit", transport])
        kit_cpu = max(c for _, c in runs["kit", transport])
        go_cpu = max(c for _, c in runs["Go kit", transport])
        lines.append(
            f"| {transport} | {kit[0]:,.0f} | {go[0]:,.0f} | {kit[0] / go[0]:.2f}x "
            f"| {kit_cpu:,.0f} | {go_cpu:,.0f} | {kit_cpu / go_cpu:.2f}x |"
        )
    bare = max(runs[BARE, "gRPC"])[0]
    kit = max(runs["kit", "gRPC"])[0]
    lines += [
        "",
        f"gRPC's ceiling in Python: a bare `grpc.aio` server of `pb.Add/Sum` (bytes "
        f"handlers over the same generated messages, no kit, no logging, metrics, limiter "
        f"or breaker), same CPU and load: {bare:,.0f} calls/s; kit's addsvc runs at "
        f"{kit / bare:.2f}x of it"
        + (
            ", so the gap to Go kit is grpc's Python server's, not kit's."
            if kit / bare >= 0.8
            else ": kit's layers cost the rest."
        ),
    ]
    lines += [
        "",
        "Every run (req/s, in order): "
        + "; ".join(
            f"{name} {transport}: " + " · ".join(f"{rps:,.0f}" for rps, _ in values)
            for (name, transport), values in runs.items()
        )
        + ".",
        "",
        machine() + ".",
    ]
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["--bare-grpc"]:
        serve_bare_grpc(int(sys.argv[2]))
        return
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    build_gokit()
    runs = measure(rounds, seconds)
    body = report(runs, rounds, seconds)
    print(body)
    write_section("addsvc", body)


if __name__ == "__main__":
    main()
