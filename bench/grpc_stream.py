"""Server streaming over gRPC: kit-grpc's typed stream against a raw grpc.aio servicer.

    .venv/bin/python bench/grpc_stream.py [ROUNDS]

The service yields ``Tick(n, text)`` items (``Ticks.ticks(count) -> AsyncIterator[Tick]``).
The raw side is a ``grpc.aio`` servicer of the messages protoc generates from ``kit proto``
of the same class, yielding the same items. Each server is a process pinned to CPU 0;
one load process pinned to CPU 1 opens STREAMS streams at a time of ITEMS items each and
counts the items read for SECONDS, after a warm-up; rounds interleaved, best kept.

1. Server: the kit server vs the raw one, both read by the raw generated stub.
2. Client: kit's client (``ServiceClient``, what ``kitcore.connect`` uses per instance)
   vs the raw stub, both reading from the raw server.

Writes the "grpc-stream" section of BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section

SECONDS, WARMUP, STREAMS, ITEMS = 3.0, 1.0, 4, 5000


class Tick(msgspec.Struct):
    """One item of the stream."""

    n: int
    text: str


class Ticks:
    """The benchmarked service: a stream of small items."""

    async def ticks(self, count: int) -> AsyncIterator[Tick]:
        """``count`` ticks."""
        for i in range(count):
            yield Tick(i, "hello, world")


def generated(out: Path) -> tuple[Any, Any]:
    """protoc's modules for ``kit proto`` of Ticks (written into ``out``)."""
    from grpc_tools import protoc
    from kit_grpc.serve import proto_text

    (out / "ticks_kit.proto").write_text(proto_text(Ticks))
    args = ["protoc", f"-I{out}", f"--python_out={out}", f"--grpc_python_out={out}"]
    if protoc.main([*args, str(out / "ticks_kit.proto")]) != 0:
        raise RuntimeError("protoc failed")
    sys.path.insert(0, str(out))
    return importlib.import_module("ticks_kit_pb2"), importlib.import_module("ticks_kit_pb2_grpc")


async def serve_child(kind: str, port: int, gen: Path) -> None:
    """Serve ``kind`` (kit or raw) on ``port`` until killed."""
    import grpc
    from kit_grpc.serve import start

    if kind == "raw":
        pb2, pb2_grpc = generated(gen)

        class Servicer(pb2_grpc.TicksServicer):  # type: ignore[misc,name-defined]
            async def Ticks(self, request: Any, context: Any) -> Any:
                for i in range(request.count):
                    yield pb2.TicksResponse(result=pb2.Tick(n=i, text="hello, world"))

        server = grpc.aio.server()
        pb2_grpc.add_TicksServicer_to_server(Servicer(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
    else:
        running = await start(Ticks(), f"127.0.0.1:{port}")
        server = running.server  # kept referenced: a collected grpc server stops
    print("ready", flush=True)
    await asyncio.Event().wait()


async def load_child(mode: str, address: str, gen: Path) -> None:
    """Read streams from ``address`` with ``mode`` (stub or kit); print items per second."""
    import grpc

    pb2, pb2_grpc = generated(gen)
    if mode == "stub":
        stub = pb2_grpc.TicksStub(grpc.aio.insecure_channel(address))
        request = pb2.TicksRequest(count=ITEMS)

        async def one() -> AsyncIterator[Any]:
            async for reply in stub.Ticks(request):
                yield reply.result

    else:
        from kit_grpc.client import ServiceClient

        from kitcore.client import Call
        from kitcore.service import describe

        spec = describe(Ticks)
        client = ServiceClient(spec, address)
        m = spec.methods["ticks"]
        call = Call(m, m.request(ITEMS))

        async def one() -> AsyncIterator[Any]:
            async for item in await client(call):
                yield item

    count = total = 0
    stop = time.perf_counter() + WARMUP + SECONDS
    measuring = time.perf_counter() + WARMUP

    async def worker() -> None:
        nonlocal count, total
        while time.perf_counter() < stop:
            async for item in one():
                total += 1
                if time.perf_counter() >= measuring:
                    count += 1
                if item.n == ITEMS - 1:
                    assert item.text == "hello, world"

    await asyncio.gather(*(worker() for _ in range(STREAMS)))
    # Items read after the stop count with the seconds they took.
    print(count / (time.perf_counter() - measuring), total, flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pinned(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []


def main(rounds: int) -> None:
    from kitcore.testing.services import free_port

    gen = Path(tempfile.mkdtemp(prefix="kit-bench-grpc-stream-"))
    children: list[subprocess.Popen[str]] = []
    try:
        ports = {kind: free_port() for kind in ("kit", "raw")}
        for kind, port in ports.items():
            child = subprocess.Popen(
                [*pinned(0), sys.executable, __file__, "serve", kind, str(port), str(gen)],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            children.append(child)
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
        kit, raw = f"127.0.0.1:{ports['kit']}", f"127.0.0.1:{ports['raw']}"
        plan = {
            "kit server": ("stub", kit),
            "raw server": ("stub", raw),
            "kit client": ("kit", raw),
            "raw stub": ("stub", raw),
        }
        runs: dict[str, list[float]] = {name: [] for name in plan}
        server_cpu: dict[str, list[float]] = {"kit server": [], "raw server": []}
        pids = {kit: children[0].pid, raw: children[1].pid}
        for _ in range(rounds):
            for name, (mode, address) in plan.items():
                before = cpu_seconds(pids[address])
                done = subprocess.run(
                    [*pinned(1), sys.executable, __file__, "load", mode, address, str(gen)],
                    capture_output=True, text=True, check=True, timeout=300,
                )  # fmt: skip
                rate, total = done.stdout.split()[-2:]
                runs[name].append(float(rate))
                if name in server_cpu:
                    used = cpu_seconds(pids[address]) - before
                    server_cpu[name].append(used / int(total))
    finally:
        for child in children:
            child.kill()
            child.wait()
        shutil.rmtree(gen, ignore_errors=True)
    best = {k: max(v) for k, v in runs.items()}
    k_server, r_server = best["kit server"], best["raw server"]
    k_client, r_stub = best["kit client"], best["raw stub"]
    k_cpu, r_cpu = min(server_cpu["kit server"]), min(server_cpu["raw server"])
    server_ratio, client_ratio = k_server / r_server, k_client / r_stub
    body = f"""## gRPC server streaming (kit-grpc)

`bench/grpc_stream.py`, {machine()}, on the shared 2-core machine (other engineers' jobs
ran at the same time: read the figures as rough). Servers pinned to CPU 0, the load
process to CPU 1; {STREAMS} streams of {ITEMS} items at a time for {SECONDS:.0f} s after
{WARMUP:.0f} s of warm-up, best of {rounds} interleaved rounds. The service yields
`Tick(n: int, text: str)` items (`Ticks.ticks(count) -> AsyncIterator[Tick]`); the raw
side is a `grpc.aio` servicer (an async generator) of the messages protoc generates from
`kit proto` of the same class. Ratios are kit / raw items per second (higher is better).

| comparison | kit (items/s) | raw (items/s) | kit / raw |
|---|---|---|---|
| streaming server (read by the raw stub) | {k_server:.0f} | {r_server:.0f} | {server_ratio:.2f} |
| streaming client (reading the raw server) | {k_client:.0f} | {r_stub:.0f} | {client_ratio:.2f} |

Both servers were held back by the one reader (the stub costs the load process about
{1e6 / r_stub:.0f} us an item), so the first row compares end to end, not the servers'
capacity. Their CPU time per item says that: {k_cpu * 1e6:.0f} us for kit's server,
{r_cpu * 1e6:.0f} us for the raw one (user + system time of each server process over its
runs, divided by the items it sent; best round). kit's extra per item is the typed
result: the item (a Struct) converted to its protobuf message and serialized by kit
instead of by grpc's serializer, and on the client one decode into the item's type.
"""
    print(body)
    write_section("grpc-stream", body)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        kind, port, gen = sys.argv[2:5]
        asyncio.run(serve_child(kind, int(port), Path(gen)))
    elif len(sys.argv) > 1 and sys.argv[1] == "load":
        mode, address, gen = sys.argv[2:5]
        asyncio.run(load_child(mode, address, Path(gen)))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
