"""One service on HTTP and gRPC at once, and ``kit serve --transport grpc``."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("kit_grpc")
pytest.importorskip("kit_http")

from kit_grpc.serve import serve as serve_grpc
from kit_grpc.serve import start
from kit_http.serve import serve as serve_http

from kitcore import connect
from kitcore.serving import ListenError
from kitcore.testing.services import free_port


class Echo:
    """Says back what it is told."""

    async def echo(self, text: str, times: int = 1) -> str:
        """``text`` repeated ``times`` times."""
        return text * times


async def test_one_service_on_http_and_grpc_at_once() -> None:
    http_port, grpc_port = free_port(), free_port()
    ready: list[str] = []
    service = Echo()
    servers = asyncio.gather(
        serve_http(service, f"http://127.0.0.1:{http_port}", started=lambda *_: ready.append("h")),
        serve_grpc(service, f"127.0.0.1:{grpc_port}", started=lambda *_: ready.append("g")),
    )
    try:
        for _ in range(300):
            if len(ready) == 2:
                break
            await asyncio.sleep(0.02)
        assert sorted(ready) == ["g", "h"]
        for url in (f"http://127.0.0.1:{http_port}", f"grpc://127.0.0.1:{grpc_port}"):
            async with connect(Echo, url) as client:
                assert await client.echo("ab", times=2) == "abab"
    finally:
        servers.cancel()
        await asyncio.gather(servers, return_exceptions=True)


SERVICE = textwrap.dedent(
    """
    class Echo:
        async def echo(self, text: str, times: int = 1) -> str:
            return text * times
    """
)


async def test_kit_serve_transport_grpc(tmp_path: Path) -> None:
    (tmp_path / "echosvc.py").write_text(SERVICE)
    port = free_port()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from kitcore.cli import main; main()",
        "serve",
        "echosvc:Echo",
        "--listen",
        f"127.0.0.1:{port}",
        "--transport",
        "grpc",
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stderr is not None
        line = await asyncio.wait_for(child.stderr.readline(), 60)
        assert f"on grpc://127.0.0.1:{port}" in line.decode(), line
        sys.path.insert(0, str(tmp_path))
        try:
            import echosvc  # type: ignore[import-not-found]
        finally:
            sys.path.remove(str(tmp_path))
        async with connect(echosvc.Echo, f"grpc://127.0.0.1:{port}") as client:
            assert await client.echo("x", times=3) == "xxx"
        child.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(child.wait(), 30) == 0
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


async def test_kit_serve_names_an_unknown_transport(tmp_path: Path) -> None:
    (tmp_path / "echosvc2.py").write_text(SERVICE)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from kitcore.cli import main; main()",
        "serve",
        "echosvc2:Echo",
        "--transport",
        "carrier-pigeon",
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 2 and b"carrier-pigeon" in err


async def test_kit_serve_transport_grpc_on_a_taken_port_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "echosvc3.py").write_text(SERVICE)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from kitcore.cli import main; main()",
            "serve",
            "echosvc3:Echo",
            "--listen",
            f"127.0.0.1:{port}",
            "--transport",
            "grpc",
            cwd=tmp_path,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(child.communicate(), 60)
    lines = err.decode().strip().splitlines()
    assert child.returncode == 1, err
    assert lines == [f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"]


async def test_a_second_grpc_server_on_a_port_fails_instead_of_sharing_it() -> None:
    first = await start(Echo(), "127.0.0.1:0", health=False, reflect=False)
    try:
        with pytest.raises(ListenError, match="Address already in use"):
            await start(Echo(), f"127.0.0.1:{first.port}", health=False, reflect=False)
    finally:
        await first.drain(0)
