"""Fixtures for the example tests: each example runs for real, as a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kitcore.testing.services import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]


def console_spans(output: str) -> list[dict[str, Any]]:
    """The spans kit-otel's ``console`` exporter printed in ``output`` (JSON objects, each
    from a ``{`` line to a ``}`` line, among other lines), in the order they ended."""
    spans, lines = [], None
    for line in output.splitlines():
        if line == "{":
            lines = [line]
        elif lines is not None:
            lines.append(line)
            if line == "}":
                spans.append(json.loads("\n".join(lines)))
                lines = None
    return spans


class Example:
    """A running example: its base URL and its log (stderr) so far."""

    def __init__(self, module: str, args: list[str], log: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self._log_path = log
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--listen", self.address, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait(self) -> Example:
        """Wait until the example listens."""
        try:
            # Generous: on a loaded 2-core machine an example takes seconds to import.
            wait_port("127.0.0.1", self.port, timeout=60)
        except TimeoutError:
            self.stop()
            raise AssertionError(f"example did not start:\n{self.log()}") from None
        return self

    def log(self) -> str:
        """Everything the example logged so far."""
        return self._log_path.read_text()

    def log_lines(self, containing: str, count: int = 1, timeout: float = 5.0) -> list[str]:
        """Wait for ``count`` log lines containing ``containing``; return them."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [line for line in self.log().splitlines() if containing in line]
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.02)

    def stop(self) -> int:
        """Stop with SIGTERM, as a supervisor would; return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        finally:
            self._log.close()


@pytest.fixture
def example(tmp_path: Path) -> Iterator[Callable[..., Example]]:
    """Start examples (``example("examples.stringsvc1", *args)``); all stop after the test,
    and each must exit 0."""
    started: list[Example] = []

    def start(module: str, *args: str, wait: bool = True) -> Example:
        ex = Example(module, list(args), tmp_path / f"{module}-{len(started)}.log")
        started.append(ex)
        return ex.wait() if wait else ex

    yield start
    codes = {ex.address: (ex.stop(), ex.log()) for ex in started}
    failed = {a: log for a, (code, log) in codes.items() if code != 0}
    assert not failed, f"examples exited non-zero: {failed}"
