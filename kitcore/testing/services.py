"""Helpers for tests that start real servers: free ports, readiness, skip-or-fail.

A fixture whose server binary is missing skips with the reason, unless
``KIT_REQUIRE_SERVICES=1`` (set by CI), where it fails: a missing server must never pass
silently.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from typing import NoReturn


def required() -> bool:
    """True when real services are required (``KIT_REQUIRE_SERVICES=1``)."""
    return os.environ.get("KIT_REQUIRE_SERVICES", "") not in ("", "0")


def unavailable(reason: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it when services are required."""
    import pytest

    if required():
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def binary(name: str, *candidates: str) -> str:
    """Return the path of the server binary ``name`` (or a candidate path), else skip/fail."""
    for path in (shutil.which(name), *candidates):
        if path and os.access(path, os.X_OK):
            return path
    unavailable(f"{name} is not installed")


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Wait until ``host:port`` accepts TCP connections; raise TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{host}:{port} did not start listening in {timeout}s") from None
            time.sleep(0.05)
