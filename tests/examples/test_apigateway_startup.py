"""An apigateway instance whose discovery is down or refuses it at start (issue 9, defect 7).

Down: the instance serves, logs each failed registration and retries with backoff until
etcd answers, then registers. Refused (a wrong password): one error line, exit 1, no
traceback. The gateway behaves the same. Real etcd servers (and kit-consul's fake agent
for an ACL token), real instance and gateway processes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kit_consul.fake import agent_process

from kitcore import sd
from kitcore.testing.servers import EtcdServer, etcd_server
from kitcore.testing.services import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "kit", "s3cret-startup"


@pytest.fixture
def auth_etcd() -> Iterator[EtcdServer]:
    """An etcd with auth enabled and a read-write user ``kit``."""
    with etcd_server(auth=(USER, PASSWORD)) as server:
        yield server


@pytest.fixture
def etcd() -> Iterator[EtcdServer]:
    """A real etcd for the test, free to stop and start."""
    with etcd_server() as server:
        yield server


def start_instance(sd_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """An instance process registering at ``sd_url``, its output into ``log``."""
    address = f"127.0.0.1:{free_port()}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "examples.apigateway.instance",
                "--listen",
                address,
                "--sd",
                sd_url,
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, address


def wait_for(log: Path, text: str, timeout: float = 20.0) -> str:
    """Wait until ``log`` holds ``text``; return the log."""
    deadline = time.monotonic() + timeout
    while text not in (content := log.read_text()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never logged:\n{content}")
        time.sleep(0.05)
    return content


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM the process (if running) and return its exit status."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


async def registered_instances(sd_url: str) -> set[str]:
    """The instance set discovery holds at ``sd_url`` now."""
    instancer = sd.instancer(sd_url)
    try:
        subscription = instancer.subscribe()
        event = await asyncio.wait_for(subscription.__anext__(), 10)
        return set(event.instances)
    finally:
        await instancer.close()


def test_wrong_password_is_one_error_line_and_exit_1(auth_etcd: EtcdServer, tmp_path: Path) -> None:
    url = f"etcd://{USER}:wrong-password@{auth_etcd.url}/services/{uuid.uuid4().hex[:8]}"
    log = tmp_path / "instance.log"
    process, _ = start_instance(url, log)
    try:
        status = process.wait(timeout=30)
    finally:
        stop(process)
    content = log.read_text()
    assert status == 1, content
    assert "Traceback" not in content
    errors = [line for line in content.splitlines() if "level=error" in line]
    assert len(errors) == 1, content
    assert 'msg="cannot register"' in errors[0]
    assert "etcd login failed" in errors[0] and "authentication failed" in errors[0]
    assert "wrong-password" not in content


async def test_discovery_down_at_start_is_retried_until_it_answers(
    etcd: EtcdServer, tmp_path: Path
) -> None:
    prefix = f"/services/{uuid.uuid4().hex[:8]}"
    url = f"etcd://{etcd.url}{prefix}"
    await asyncio.to_thread(etcd.stop)
    log = tmp_path / "instance.log"
    process, address = start_instance(url + "?ttl=2", log)
    try:
        wait_port("127.0.0.1", int(address.rsplit(":", 1)[1]), timeout=20)
        # Two failures logged: it retries rather than giving up after one.
        deadline = time.monotonic() + 20
        while log.read_text().count("registration failed, retrying") < 2:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            await asyncio.sleep(0.05)
        await asyncio.to_thread(etcd.start)
        content = await asyncio.to_thread(wait_for, log, "msg=registered")
        assert process.poll() is None, content
        assert await registered_instances(url) == {address}
    finally:
        status = stop(process)
    content = log.read_text()
    assert status == 0, content
    assert "Traceback" not in content
    assert "msg=deregistered" in content


def start_gateway(sd_url: str, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A gateway process following ``sd_url``, its output into ``log``."""
    port = free_port()
    argv = ["--listen", f"127.0.0.1:{port}", "--sd", sd_url]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "examples.apigateway", *argv],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, port


def test_a_gateway_refused_by_discovery_is_one_error_line_and_exit_1(
    auth_etcd: EtcdServer, tmp_path: Path
) -> None:
    url = f"etcd://{USER}:wrong-password@{auth_etcd.url}/services/{uuid.uuid4().hex[:8]}"
    log = tmp_path / "gateway.log"
    process, _ = start_gateway(url, log)
    try:
        status = process.wait(timeout=30)
    finally:
        stop(process)
    content = log.read_text()
    assert status == 1, content
    assert "Traceback" not in content
    errors = [line for line in content.splitlines() if "level=error" in line]
    assert len(errors) == 1, content
    assert 'msg="discovery refused the gateway"' in errors[0]
    assert "etcd login failed" in errors[0] and "authentication failed" in errors[0]
    assert "wrong-password" not in content


async def test_a_gateway_retries_discovery_that_is_down_until_it_answers(
    etcd: EtcdServer, tmp_path: Path
) -> None:
    url = f"etcd://{etcd.url}/services/{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(etcd.stop)
    log = tmp_path / "gateway.log"
    process, port = start_gateway(url, log)
    instance_log = tmp_path / "instance.log"
    instance = None
    try:
        # It serves meanwhile, and logs the failures it retries.
        await asyncio.to_thread(wait_port, "127.0.0.1", port, 60)
        await asyncio.to_thread(wait_for, log, 'msg="service discovery failed"')
        await asyncio.to_thread(etcd.start)
        instance, address = start_instance(url + "?ttl=2", instance_log)
        content = await asyncio.to_thread(wait_for, log, f'msg="instance added" instance={address}')
        assert process.poll() is None, content
    finally:
        status = stop(process)
        if instance is not None:
            stop(instance)
    content = log.read_text()
    assert status == 0, content
    assert "Traceback" not in content


@pytest.mark.parametrize(
    ("start", "refusal"),
    [(start_gateway, "discovery refused the gateway"), (start_instance, "cannot register")],
)
def test_a_wrong_consul_token_is_one_error_line_and_exit_1(
    tmp_path: Path, start: Any, refusal: str
) -> None:
    # kit-consul's fake agent enforcing an ACL token, in its own process; Consul answers
    # an unknown token 403 "ACL not found", which no retry can fix.
    with agent_process("--token", "s3cret-consul-token") as port:
        url = f"consul://:wrong-token@127.0.0.1:{port}/stringsvc"
        log = tmp_path / "process.log"
        process, _ = start(url, log)
        try:
            status = process.wait(timeout=30)
        finally:
            stop(process)
    content = log.read_text()
    assert status == 1, content
    assert "Traceback" not in content
    errors = [line for line in content.splitlines() if "level=error" in line]
    assert len(errors) == 1, content
    assert f'msg="{refusal}"' in errors[0] and "ACL not found" in errors[0]
    assert "wrong-token" not in content
