"""Helpers for testing against real NATS servers: the shared one, or a test's own.

``connection()`` connects to the NATS on 127.0.0.1:4222 (``KIT_NATS_URL`` overrides),
or skips the test (fails under ``KIT_REQUIRE_SERVICES=1``). ``NatsServer`` runs a test's
own ``nats-server -js`` on a free port with its own store directory, which it can stop
and start again on the same port and store (a broker restart mid-stream).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Any

from nats.aio.client import Client

from kit_nats.connection import open_connection
from kitcore.testing.services import binary, free_port, unavailable, wait_port

URL = os.environ.get("KIT_NATS_URL", "nats://127.0.0.1:4222")
"""The shared NATS server the tests use."""


async def connection(url: str = URL, **options: Any) -> Client:
    """A connection to ``url``; skips (or fails when services are required) if none."""
    try:
        return await open_connection(url, **options)
    except Exception as exc:
        unavailable(f"no NATS server at {url}: {exc}")


class NatsServer:
    """A ``nats-server`` with JetStream on a free loopback port, its store in a temp dir."""

    def __init__(self) -> None:
        self.path = binary("nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server")
        self.port = free_port()
        self._store = tempfile.TemporaryDirectory(prefix="kit-nats-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server (again) on its port and store; returns once it listens."""
        self.process = subprocess.Popen(
            [self.path, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self._store.name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port("127.0.0.1", self.port, 15)

    def stop(self) -> None:
        """Stop the server and wait for it to exit."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._store.cleanup()
