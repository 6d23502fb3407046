"""``kit serve`` for real (a subprocess, SIGTERM), and how targets and addresses are read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kit_http import App
from kit_http.serve import as_app, load, parse_listen

from kitcore.plugins import plugins
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


    endpoints = {"echo": echo}
    '''
)


@pytest.mark.parametrize(
    ("listen", "address"),
    [
        (":8080", ("0.0.0.0", 8080)),
        ("127.0.0.1:9000", ("127.0.0.1", 9000)),
        ("http://localhost:81/", ("localhost", 81)),
        ("[::1]:82", ("::1", 82)),
    ],
)
def test_parse_listen(listen: str, address: tuple[str, int]) -> None:
    assert parse_listen(listen) == address


@pytest.mark.parametrize("bad", ["8080", "host:", "host:port", ""])
def test_parse_listen_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="listen"):
        parse_listen(bad)


def test_load_and_as_app(svc: SimpleNamespace) -> None:
    assert load("kit_http.serve:SERVERS") == ("uvicorn", "granian", "granian-asgi", "hypercorn")
    assert load("kit_http:App.route") is App.route
    with pytest.raises(ValueError, match="module:attr"):
        load("kit_http")
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
    try:
        wait_port("127.0.0.1", port)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            assert (r.status, json.loads(r.read())) == (200, expected)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert f"serving {target} on http://127.0.0.1:{port}" in err


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
