"""Instructions per client call, counted by callgrind: kit's clients against the raw ones.

    .venv/bin/python bench/client_instructions.py [CALLS]   (default 300 per contender)

Throughput on a shared 2-core machine moves by tens of percent between runs; the
instructions a call executes do not (``valgrind --tool=callgrind`` counts them, whatever
else the machine does). This runs the contenders in one child process under callgrind,
one after the other: each is warmed up, the counters are zeroed, CALLS sequential
calls are made, and the counters dumped (``callgrind_control -z`` / ``-d``), so start-up
and imports are not counted.

- HTTP: a kit-http server on uvicorn in its own process (not counted); the child calls
  ``POST /uppercase`` with raw aiohttp (``async with session.post``, as its docs show),
  kit's ClientEndpoint without and with a deadline, and ``kitcore.connect()`` with every
  part off but Retry and the deadline, with one part on at a time, and with its
  defaults.
- NATS: the broker on 4222; server and client in the child (both counted), as
  ``bench/messaging.py`` runs them: raw nats-py request/respond, the same with kit's
  deadline header (its server replying without echoing the header back, as kit's
  server does), kit's Publisher without and with a deadline, and the typed client;
  one by one, then again from 32 concurrent callers (the load ``bench/messaging.py``
  puts on them).

Writes the "client-instructions" part of BENCHMARKS.md. Needs valgrind.
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

Call = Callable[[], Awaitable[Any]]

HTTP = [
    ("raw aiohttp", "raw"),
    ("kit ClientEndpoint", "endpoint"),
    ("kit ClientEndpoint, 10 s deadline", "endpoint_deadline"),
    ("connect(): Retry and the deadline only", "bare"),
    ("... + attempt timeouts", "bare+attempt_timeout"),
    ("... + retry budget", "bare+retry_budget"),
    ("... + outlier ejection", "bare+outliers"),
    ("... + PeakEwma (instead of RoundRobin)", "bare+ewma"),
    ("connect() with its defaults", "connect"),
]
CROWD, CROWD_CALLS = 32, 2000
DEADLINE_ROWS = frozenset({"raw_headers", "publisher_deadline", "connect"})
NATS = [
    ("nats-py request/respond", "raw"),
    ("... with kit's deadline header", "raw_headers"),
    ("kit-nats Publisher", "publisher"),
    ("kit-nats Publisher, 5 s deadline", "publisher_deadline"),
    ("kit-nats typed client (connect)", "connect"),
]


async def http_contenders(url: str) -> dict[str, Call]:
    """Each HTTP contender's one call."""
    import aiohttp
    import kit_http.client as http_client
    import msgspec

    from bench.http_apps import StringService
    from kitcore import connect, context
    from kitcore.lb import RoundRobin

    session = aiohttp.ClientSession()
    decode = msgspec.json.Decoder(str).decode
    body = msgspec.json.encode({"s": "hello, world"})
    json = {"Content-Type": "application/json"}
    endpoint = http_client.ClientEndpoint("POST", f"{url}/uppercase", response_type=str)
    off: dict[str, Any] = {
        "attempt_timeout": False,
        "retry_budget": False,
        "outliers": False,
        "balancer": RoundRobin,
        "hedge": None,
    }

    async def raw() -> Any:
        async with session.post(f"{url}/uppercase", data=body, headers=json) as r:
            return decode(await r.read())

    async def plain() -> Any:
        return await endpoint({"s": "hello, world"})

    async def deadline() -> Any:
        with context.timeout(10):
            return await endpoint({"s": "hello, world"})

    def client(**options: Any) -> Call:
        remote = connect(StringService, url, **options)
        return lambda: remote.uppercase("hello, world")

    with_ewma = dict(off)
    del with_ewma["balancer"]
    return {
        "raw": raw,
        "endpoint": plain,
        "endpoint_deadline": deadline,
        "bare": client(**off),
        "bare+attempt_timeout": client(**{**off, "attempt_timeout": True}),
        "bare+retry_budget": client(**{**off, "retry_budget": True}),
        "bare+outliers": client(**{**off, "outliers": True}),
        "bare+ewma": client(**with_ewma),
        "connect": client(),
    }


async def nats_contenders() -> dict[str, Call]:
    """Each NATS contender's one call (its server runs in this process too)."""
    import msgspec
    import nats
    from kit_nats.client import Publisher as NatsPublisher
    from kit_nats.server import Subscriber as NatsSubscriber
    from messaging import NATS as URL
    from messaging import Upper, UpperRequest

    import kitcore

    subject, raw_subject = f"bench_{uuid.uuid4().hex}", f"raw_{uuid.uuid4().hex}"
    server, client = await nats.connect(URL), await nats.connect(URL)
    await NatsSubscriber(server, subject, Upper()).__aenter__()
    decode = msgspec.json.Decoder(UpperRequest).decode
    encode = msgspec.json.encode

    async def respond(msg: Any) -> None:
        # Not msg.respond(): it sends the request's headers back in the reply.
        await server.publish(msg.reply, encode(decode(msg.data).s.upper()))

    await server.subscribe(raw_subject, queue=raw_subject, cb=respond)
    await server.flush()
    body = encode(UpperRequest("hello"))
    reply = msgspec.json.Decoder(str).decode
    headers = {"Kit-Timeout": "5000;1764693000123"}
    publisher = NatsPublisher(client, f"{subject}.uppercase", response_type=str)
    bounded = NatsPublisher(client, f"{subject}.uppercase", response_type=str, timeout=5.0)
    typed = kitcore.connect(Upper, f"{URL}/{subject}")

    async def raw() -> Any:
        return reply((await client.request(raw_subject, body, timeout=5)).data)

    async def raw_headers() -> Any:
        return reply((await client.request(raw_subject, body, timeout=5, headers=headers)).data)

    return {
        "raw": raw,
        "raw_headers": raw_headers,
        "publisher": lambda: publisher(UpperRequest("hello")),
        "publisher_deadline": lambda: bounded(UpperRequest("hello")),
        "connect": lambda: typed.uppercase("hello"),
    }


async def child(kind: str, url: str, calls: int, callers: int) -> None:
    """Run in callgrind: warm each contender up, then CALLS calls between the markers."""
    contenders = await (http_contenders(url) if kind == "http" else nats_contenders())
    for name, call in contenders.items():
        for _ in range(100):
            await call()
        print("READY", name, flush=True)
        sys.stdin.readline()
        left = calls

        async def caller(call: Call = call) -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await call()

        await asyncio.gather(*(caller() for _ in range(callers)))
        print("DONE", name, flush=True)
        sys.stdin.readline()
    os._exit(0)  # nothing after the last dump is counted; skip the teardown


def count(kind: str, url: str, calls: int, callers: int = 1) -> dict[str, float]:
    """Instructions per call of each contender, from one callgrind run of ``child``."""
    out = Path(tempfile.mkdtemp(prefix="kit-callgrind-")) / "out"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}.%p",
        sys.executable,
        __file__,
        "--child",
        kind,
        url,
        str(calls),
        str(callers),
    ]
    child_process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child_process.stdin is not None and child_process.stdout is not None
    pid = str(child_process.pid)
    counts: dict[str, float] = {}
    for line in child_process.stdout:
        marker, name = line.split()
        if marker == "READY":
            subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
        else:
            subprocess.run(["callgrind_control", "-d", name, pid], check=True, capture_output=True)
            dump = max(glob.glob(f"{out}.{pid}.*"), key=os.path.getmtime)
            total = re.search(r"^(?:summary|totals):\s+(\d+)", Path(dump).read_text(), re.M)
            assert total is not None, dump
            counts[name] = int(total.group(1)) / calls
            print(f"{kind} x{callers} {name}: {counts[name]:,.0f} instructions a call", flush=True)
        child_process.stdin.write("\n")
        child_process.stdin.flush()
    child_process.wait()
    return counts


def table(
    rows: list[tuple[str, str]],
    counts: dict[str, float],
    baseline: str,
    like: str | None = None,
    sending: frozenset[str] = frozenset(),
) -> list[str]:
    """Markdown rows: each contender's instructions a call and its ratio to the baseline.

    With ``like``, a last column: the rows in ``sending`` against ``like`` (the raw
    client doing the same), the others against the baseline again.
    """
    head, rule = "| contender | instructions a call | vs raw |", "|---|---|---|"
    if like is not None:
        head, rule = head + " vs like raw |", rule + "---|"
    lines = [head, rule]
    for label, key in rows:
        value = counts[key]
        line = f"| {label} | {value:,.0f} | {value / counts[baseline]:.3f}x |"
        if like is not None:
            peer = counts[like if key in sending else baseline]
            line += f" {value / peer:.3f}x |"
        lines.append(line)
    return lines


def main() -> None:
    from _http import serving
    from _report import machine, write_section

    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with serving("uvicorn", "kit") as running:
        http = count("http", f"http://127.0.0.1:{running.port}", calls)
    nats = count("nats", "-", calls)
    nats_crowd = count("nats", "-", CROWD_CALLS, CROWD)
    lines = [
        "## Client instructions per call (callgrind)",
        "",
        f"`bench/client_instructions.py {calls}`; {machine()}. Instructions the client "
        f"process executes per call, {calls} sequential calls per contender after a "
        "warm-up, counted by callgrind: unlike throughput on this shared machine, the "
        "same from run to run (within about 0.5%). HTTP: the kit-http server (uvicorn) "
        "runs in another process, not counted. NATS: server and client both in the "
        "counted process, the broker not.",
        "",
        *table(HTTP, http, "raw"),
        "",
        *table(NATS, nats, "raw"),
        "",
        f"NATS again, {CROWD_CALLS} calls from {CROWD} concurrent callers (as "
        "`bench/messaging.py` loads it): the broker batches messages, so a call's fixed "
        "costs (system calls, loop turns) are shared and what each message costs in "
        "Python weighs more. The last column is against raw nats-py sending the same "
        "header, for the rows that send a deadline.",
        "",
        *table(NATS, nats_crowd, "raw", like="raw_headers", sending=DEADLINE_ROWS),
    ]
    body = "\n".join(lines)
    write_section("client-instructions", body)
    print(body)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        kind, url, calls, callers = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        if kind == "http":
            import uvloop

            uvloop.run(child(kind, url, calls, callers))
        else:
            asyncio.run(child(kind, url, calls, callers))
    else:
        main()
