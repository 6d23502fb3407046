"""A hung instance (SIGSTOP: its socket accepts, nothing answers) behind kit-http servers.

Issue 9's defect 2: with one overall deadline, an attempt that reaches the stopped
instance spends all of it and no retry reaches the healthy one. With per-attempt
timeouts (connect's default) every call succeeds.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitcore import DeadlineExceeded, closing, connect
from kitcore.lb import RetryBudget, RoundRobin
from kitcore.testing.services import free_port, wait_port

KIT = Path(sys.executable).with_name("kit")

SERVICE = """
class StringService:
    async def uppercase(self, s: str) -> str:
        return s.upper()
"""


class StringService:
    """The client's view of the served service (same method, same route)."""

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s``."""
        raise NotImplementedError


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """Two kit-http server processes serving StringService: ``[(address, process)]``."""
    (tmp_path / "svcmod.py").write_text(SERVICE)
    env = {**os.environ, "KIT_PLUGINS": "kit-http"}
    started = []
    try:
        for _ in range(2):
            address = f"127.0.0.1:{free_port()}"
            process = subprocess.Popen(
                [str(KIT), "serve", "svcmod:StringService", "--listen", address],
                cwd=tmp_path,
                env=env,
                stderr=subprocess.DEVNULL,
            )
            started.append((address, process))
        for address, _ in started:
            wait_port("127.0.0.1", int(address.rsplit(":", 1)[1]), timeout=20)
        yield started
    finally:
        for _, process in started:
            process.send_signal(signal.SIGCONT)
            process.terminate()
        for _, process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def static(instances: list[tuple[str, subprocess.Popen[bytes]]]) -> str:
    return "static://" + ",".join(address for address, _ in instances)


async def test_a_stopped_instance_costs_no_failed_call(
    instances: list[tuple[str, subprocess.Popen[bytes]]],
) -> None:
    target = static(instances)
    # Round robin sends half the calls to the stopped instance: each needs a retry, more
    # than the default budget's 10/s floor pays for at this rate, so the budget is sized.
    budget = RetryBudget(percent_can_retry=0.6)
    async with closing(
        connect(
            StringService,
            target,
            timeout=5.0,
            balancer=RoundRobin,
            outliers=False,
            retry_budget=budget,
        )
    ) as remote:
        for _ in range(40):  # learn the method's latency while both are healthy
            assert await remote.uppercase("x") == "X"
        instances[0][1].send_signal(signal.SIGSTOP)
        results = []
        # A full collection of pytest's heap holds this loop up for 60-80 ms, longer than
        # the attempts' learnt bound: it would cut attempts at the healthy instance too,
        # a caller's own stall this test is not about. Frozen, as a service is after
        # start-up, the objects already made are not scanned again.
        gc.freeze()
        try:
            for _ in range(5):  # waves of concurrent callers, half sent to the stopped one
                wave = await asyncio.gather(
                    *(remote.uppercase("hello") for _ in range(40)), return_exceptions=True
                )
                results.extend(wave)
        finally:
            gc.unfreeze()
        failed = [str(r.__cause__) for r in results if r != "HELLO"]
        assert failed == [], failed[0]


async def test_with_the_default_client_too(
    instances: list[tuple[str, subprocess.Popen[bytes]]],
) -> None:
    async with closing(connect(StringService, static(instances), timeout=5.0)) as remote:
        instances[1][1].send_signal(signal.SIGSTOP)  # stopped before any latency is learnt
        results = await asyncio.gather(
            *(remote.uppercase("hello") for _ in range(100)), return_exceptions=True
        )
        failed = [str(r.__cause__) for r in results if r != "HELLO"]
        assert failed == [], failed[0]


async def test_without_attempt_timeouts_calls_fail_as_issue_9_found(
    instances: list[tuple[str, subprocess.Popen[bytes]]],
) -> None:
    target = static(instances)
    async with closing(
        connect(
            StringService,
            target,
            timeout=0.5,
            balancer=RoundRobin,
            outliers=False,
            attempt_timeout=False,
        )
    ) as remote:
        instances[0][1].send_signal(signal.SIGSTOP)
        results = await asyncio.gather(
            *(remote.uppercase("hello") for _ in range(10)), return_exceptions=True
        )
    failed = [r for r in results if isinstance(r, DeadlineExceeded)]
    assert len(failed) == 5  # every call whose first attempt went to the stopped instance
