"""stringsvc1 reproduces the tutorial's transcript over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

CURL = {"Content-Type": "application/x-www-form-urlencoded"}  # what `curl -d` sends


async def test_tutorial_transcript(example: Callable[..., Any]) -> None:
    svc = example("examples.stringsvc1")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{svc.url}/uppercase", data='{"s":"hello, world"}', headers=CURL
        ) as r:
            assert (r.status, await r.text()) == (200, '{"v":"HELLO, WORLD"}')
        async with http.post(f"{svc.url}/count", data='{"s":"hello, world"}', headers=CURL) as r:
            assert (r.status, await r.text()) == (200, '{"v":12}')
        async with http.post(f"{svc.url}/uppercase", data='{"s":""}', headers=CURL) as r:
            assert (r.status, await r.text()) == (200, '{"v":"","err":"Empty string"}')


async def test_bad_requests(example: Callable[..., Any]) -> None:
    svc = example("examples.stringsvc1")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{svc.url}/uppercase", data='{"s":1}', headers=CURL) as r:
            assert r.status == 400
            assert (await r.json())["details"]["field"] == "$.s"
        async with http.get(f"{svc.url}/count") as r:
            assert r.status == 405
        async with http.post(f"{svc.url}/lowercase", data="{}", headers=CURL) as r:
            assert r.status == 404


async def test_served_over_nats_beside_http(example: Callable[..., Any]) -> None:
    import uuid

    from kit_nats.testing import URL, connection

    from examples.stringsvc1.service import EmptyString, StringService
    from kitcore import InvalidArgument, connect

    probe = await connection()  # skips (or fails under KIT_REQUIRE_SERVICES) with no NATS
    await probe.close()
    url = f"{URL}/stringsvc_{uuid.uuid4().hex}"
    svc = example("examples.stringsvc1", "--nats", url)
    assert svc.log_lines("NATS", timeout=20), svc.log()
    async with connect(StringService, url) as client:
        assert await client.uppercase("hello, world") == "HELLO, WORLD"
        assert await client.count("hello") == 5
        try:
            await client.uppercase("")
        except InvalidArgument as exc:
            assert exc.message == EmptyString().message
        else:
            raise AssertionError("no error")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{svc.url}/count", data='{"s":"abc"}', headers=CURL) as r,
    ):
        assert await r.text() == '{"v":3}'  # HTTP serves beside NATS
    assert svc.stop() == 0


def test_no_nats_broker_stops_it_with_the_reason() -> None:
    import subprocess
    import sys
    from pathlib import Path

    import pytest

    from kitcore.testing.services import free_port

    pytest.importorskip("kit_nats")

    nowhere = f"nats://127.0.0.1:{free_port()}/stringsvc"
    listen = f"127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "examples.stringsvc1", "--listen", listen, "--nats", nowhere],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert f"Error: cannot serve over NATS at {nowhere}" in done.stderr
    assert "Traceback" not in done.stderr
