"""``kit serve`` for real (a subprocess, SIGTERM), and how targets and addresses are read."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

import pytest
from kit_http import App
from kit_http.serve import SERVERS, as_app, serve

from kitcore.plugins import plugins
from kitcore.serving import ListenError, parse_listen
from kitcore.testing.services import free_port, wait_port

KIT = Path(sys.executable).with_name("kit")

SERVICE = textwrap.dedent(
    '''
    """A service module for `kit serve`."""
    from kitcore import InvalidArgument


    class StringService:
        """Strings."""

        async def uppercase(self, s: str) -> str:
            """Upper-case s."""
            if not s:
                raise InvalidArgument("Empty string")
            return s.upper()


    service = StringService()


    async def echo(request):
        return request


    async def frozen(request):
        import gc

        return gc.get_freeze_count() > 0


    endpoints = {"echo": echo, "frozen": frozen}
    '''
)


def test_as_app(svc: SimpleNamespace) -> None:
    app = App()
    assert as_app(app) is app
    assert as_app(svc.StringService()).routes()[0] == "POST /uppercase"
    assert as_app(svc.StringService).routes()[0] == "POST /uppercase"

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        return None

    assert as_app(asgi) is asgi
    assert as_app(lambda: {"x": asgi}).routes() == ["POST /x"]
    with pytest.raises(TypeError, match="cannot serve"):
        as_app(42)


@pytest.mark.parametrize(
    ("target", "path", "body", "expected"),
    [
        ("svcmod:service", "/uppercase", {"s": "hi"}, "HI"),
        ("svcmod:StringService", "/uppercase", {"s": "yo"}, "YO"),
        ("svcmod:endpoints", "/echo", [1], [1]),
        # Once serving, what start-up made is kept out of later collections.
        ("svcmod:endpoints", "/frozen", {}, True),
    ],
)
def test_kit_serve_serves_a_target_until_sigterm(
    tmp_path: Path, target: str, path: str, body: Any, expected: Any
) -> None:
    (tmp_path / "svcmod.py").write_text(SERVICE)
    port = free_port()
    env = {**os.environ, "KIT_PLUGINS": "kit-http"}
    proc = subprocess.Popen(
        [str(KIT), "serve", target, "--listen", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    # A thread reads stderr line by line: select() on a buffered pipe misses lines
    # already in the buffer, and communicate() then reads past them.
    lines: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=_collect, args=(proc.stderr, lines), daemon=True)
    reader.start()
    try:
        wait_port("127.0.0.1", port)
        # The line comes from the started callback, which may run a moment after the
        # port opens: wait for it before SIGTERM, or a fast test races it.
        deadline = time.monotonic() + 20
        while not any("serving" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            assert (r.status, json.loads(r.read())) == (200, expected)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        reader.join(timeout=5)
    announced = "".join(lines)
    assert proc.returncode == 0, announced
    assert f"serving {target} on http://127.0.0.1:{port}" in announced


def _collect(stream: IO[str], lines: list[str]) -> None:
    for line in iter(stream.readline, ""):
        lines.append(line)


def test_kit_serve_reports_bad_targets(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(KIT), "serve", "no_such_module:x"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "No module named 'no_such_module'" in result.stderr


def test_kit_plugins_lists_the_serve_command() -> None:
    info = next(i for i in plugins().infos if i.name == "kit-http")
    assert info.registers == {"transports": ["http", "https", "jsonrpc"]}
    result = subprocess.run(
        [str(KIT), "plugins", "--json"], capture_output=True, text=True, timeout=30
    )
    assert '"serve"' in result.stdout


def test_kit_serve_binds_loopback_by_default() -> None:
    from kit_http.serve import serve_command

    listen = next(p for p in serve_command.params if p.name == "listen")
    assert parse_listen(str(listen.default)) == ("127.0.0.1", 8080)
    assert parse_listen(":8080") == ("0.0.0.0", 8080)  # as in Go: all interfaces


def test_kit_serve_on_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "svcmod.py").write_text(SERVICE)
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(KIT), "serve", "svcmod:service", "--listen", f"127.0.0.1:{port}"],
            cwd=tmp_path,
            env={**os.environ, "KIT_PLUGINS": "kit-http"},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


@pytest.mark.parametrize("server", SERVERS)
async def test_started_fires_only_once_listening(server: str, svc: SimpleNamespace) -> None:
    seen: list[bool] = []

    def started(host: str, port: int) -> None:
        with socket.create_connection((host, port), timeout=5):
            seen.append(True)  # connect() would have raised before the bind

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(ListenError, match="Address already in use"):
            await serve(svc.StringService(), f"127.0.0.1:{port}", server=server, started=started)
    assert seen == []
    port = free_port()
    task = asyncio.create_task(
        serve(svc.StringService(), f"127.0.0.1:{port}", server=server, started=started)
    )
    try:
        for _ in range(500):
            if seen or task.done():
                break
            await asyncio.sleep(0.02)
        assert seen == [True]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_run_without_uvloop_leaves_no_import_error_in_tracebacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kit_http.serve import run

    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    contexts: list[BaseException | None] = []

    async def fails() -> None:
        try:
            raise ValueError("boom")
        except ValueError as exc:
            contexts.append(exc.__context__)

    run(fails())
    assert contexts == [None]
