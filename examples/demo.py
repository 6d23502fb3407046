"""The quick start's demo: three stringsvc3 instances and a proxy, as in Go kit's tutorial.

Starts the four services as subprocesses on free ports, sends a few requests to the
proxy, prints every service's log lines (the round robin shows in the ``listen=`` of
each instance's line), then stops everything with SIGTERM and exits 0.

    python -m examples.demo
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Sequence

import aiohttp

from kitcore.testing.services import free_port

HOST = "127.0.0.1"
WORDS = ("foo", "bar", "baz", "qux", "", "hello, world")
JSON = {"Content-Type": "application/json"}


async def start(args: Sequence[str]) -> asyncio.subprocess.Process:
    """Start ``python -m examples.stringsvc3 ARGS`` with its log lines on a pipe."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "examples.stringsvc3",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def relay(process: asyncio.subprocess.Process, lines: asyncio.Queue[str]) -> None:
    """Pass each log line of ``process`` on to ``lines``."""
    assert process.stdout is not None
    async for line in process.stdout:
        await lines.put(line.decode(errors="replace").rstrip())


async def printer(lines: asyncio.Queue[str]) -> None:
    """Print log lines as they come."""
    while True:
        print(f"  | {await lines.get()}", flush=True)
        lines.task_done()


async def until_listening(port: int, timeout: float = 20.0) -> None:
    """Wait until ``port`` accepts connections."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            if loop.time() > deadline:
                raise TimeoutError(f"nothing listening on {port}") from None
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return


async def main() -> int:
    """Run the demo; returns the exit status."""
    ports = [free_port() for _ in range(4)]
    proxy_port, instance_ports = ports[0], ports[1:]
    instances = ",".join(f"{HOST}:{p}" for p in instance_ports)
    lines: asyncio.Queue[str] = asyncio.Queue()
    show = asyncio.create_task(printer(lines))
    processes = [await start(["--listen", f"{HOST}:{p}"]) for p in instance_ports]
    processes.append(await start(["--listen", f"{HOST}:{proxy_port}", "--proxy", instances]))
    relays = [asyncio.create_task(relay(p, lines)) for p in processes]
    status = 0
    try:
        for port in ports:
            await until_listening(port)
        print(f"three instances on {instances}, the proxy on {HOST}:{proxy_port}\n", flush=True)
        async with aiohttp.ClientSession() as http:
            for word in WORDS:
                body = json.dumps({"s": word})
                url = f"http://{HOST}:{proxy_port}/uppercase"
                print(f"$ curl -d'{body}' {url}", flush=True)
                async with http.post(url, data=body, headers=JSON) as r:
                    text = await r.text()
                    if r.status != 200:
                        status = 1
                await asyncio.sleep(0.1)  # let this call's log lines print before its answer
                await lines.join()
                print(text, flush=True)
    except Exception as exc:
        print(f"demo failed: {exc!r}", file=sys.stderr)
        status = 1
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        codes = [await process.wait() for process in processes]
        await asyncio.gather(*relays)
        await lines.join()
        show.cancel()
        await asyncio.gather(show, return_exceptions=True)
    if any(codes):
        print(f"a service exited with {codes}", file=sys.stderr)
        status = 1
    print("\nall services stopped", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
