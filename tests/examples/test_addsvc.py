"""addsvc: Go kit's wire forms, its rules, and interop with Go kit's own addsvc and addcli.

Go kit's binaries are built from Debian's packages by the anchor's build.sh into a cached
temporary directory; without Go the interop tests skip (and fail under
KIT_REQUIRE_SERVICES=1). The README's transcripts are replayed line by line.
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from examples.addsvc import transport_http, transport_jsonrpc
from kitcore.errors import InvalidArgument, ResourceExhausted, Unavailable
from kitcore.testing.services import free_port, unavailable, wait_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "examples" / "addsvc" / "README.md"
ANCHOR = Path("/work/shared/anchors/gokit-addsvc/build.sh")
GOKIT = Path(tempfile.gettempdir()) / "kit-gokit-addsvc"
BINARIES = ("addsvc", "addcli", "addsvc-nolimit")
README_PORTS = {"python": (8081, 8084), "gokit": (8181, 8184)}


@pytest.fixture(scope="session")
def gokit() -> Path:
    """Go kit's addsvc, addcli and addsvc-nolimit, built once (cached between runs)."""
    if not all((GOKIT / name).exists() for name in BINARIES):
        if not ANCHOR.exists():
            unavailable(f"Go kit's addsvc anchor is missing: {ANCHOR}")
        try:
            result = subprocess.run(
                ["sh", str(ANCHOR), str(GOKIT)], capture_output=True, text=True, timeout=900
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            unavailable(f"cannot build Go kit's addsvc: {exc}")
        if result.returncode != 0 or not all((GOKIT / n).exists() for n in BINARIES):
            unavailable(f"cannot build Go kit's addsvc: {result.stderr[-2000:]}")
    return GOKIT


class Server:
    """An addsvc process (this one or Go kit's) on free loopback ports."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.debug, self.http, self.grpc, self.jsonrpc = (free_port() for _ in range(4))
        self.log_path = log
        self._log = log.open("w")
        args = ["-debug.addr", self.address(self.debug), "-http-addr", self.address(self.http)]
        if "addsvc" in Path(command[0]).name:  # Go kit's serves gRPC too
            args += ["-grpc-addr", self.address(self.grpc)]
        args += ["-jsonrpc-addr", self.address(self.jsonrpc)]
        self.process = subprocess.Popen(
            [*command, *args], cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            for port in (self.debug, self.http, self.jsonrpc):
                wait_port("127.0.0.1", port, timeout=20)
        except TimeoutError:
            self.stop()
            raise AssertionError(f"addsvc did not start:\n{self.log()}") from None

    @staticmethod
    def address(port: int) -> str:
        return f"127.0.0.1:{port}"

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        """SIGTERM, as a supervisor would; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        finally:
            self._log.close()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    """Servers started by the test; ours must exit 0 on SIGTERM."""
    started: list[Server] = []
    yield started
    statuses = [(s.stop(), s) for s in started]
    for status, server in statuses:
        if server.process.args[0] == sys.executable:  # type: ignore[index]
            assert status == 0, server.log()


def python_addsvc(servers: list[Server], tmp_path: Path, *flags: str) -> Server:
    server = Server(
        [sys.executable, "-m", "examples.addsvc", *flags], tmp_path / f"py-{len(servers)}.log"
    )
    servers.append(server)
    return server


def gokit_addsvc(servers: list[Server], tmp_path: Path, gokit: Path) -> Server:
    server = Server([str(gokit / "addsvc-nolimit")], tmp_path / f"go-{len(servers)}.log")
    servers.append(server)
    return server


# -- the README's transcripts, replayed ------------------------------------------------

BLOCK = re.compile(r"<!-- transcript: server=(\S+) client=(\S+) -->\n```\n(.*?)\n```", re.S)


def transcripts() -> list[tuple[str, str, str]]:
    return BLOCK.findall(README.read_text())


def steps(block: str) -> list[tuple[str, list[str], int]]:
    """``(command, output lines, exit status)`` of each ``$`` line of a block."""
    out: list[tuple[str, list[str], int]] = []
    for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
        lines = chunk.splitlines()
        status = re.fullmatch(r"\[exit (\d+)\]", lines[-1])
        assert status, f"no [exit N] after {lines[0]!r}"
        out.append((lines[0], lines[1:-1], int(status.group(1))))
    return out


@pytest.mark.parametrize(
    ("server_kind", "client", "block"),
    transcripts(),
    ids=[f"{s}-server-{c}-client" for s, c, _ in transcripts()],
)
def test_readme_transcripts(
    request: pytest.FixtureRequest,
    servers: list[Server],
    tmp_path: Path,
    server_kind: str,
    client: str,
    block: str,
) -> None:
    gokit = request.getfixturevalue("gokit") if "gokit" in (server_kind, client) else None
    if server_kind == "gokit":
        assert gokit is not None
        server = gokit_addsvc(servers, tmp_path, gokit)
    else:
        flags = () if server_kind == "python-limited" else ("-unlimited",)
        server = python_addsvc(servers, tmp_path, *flags)
    http_port, jsonrpc_port = README_PORTS["gokit" if server_kind == "gokit" else "python"]
    ports = {http_port: server.http, jsonrpc_port: server.jsonrpc}
    found = steps(block)
    assert len(found) >= 5
    for command, expected, status in found:
        argv = shlex.split(command)
        if argv[0] == "addcli":
            assert gokit is not None
            argv[0] = str(gokit / "addcli")
        else:
            assert argv[:3] == ["python", "-m", "examples.addsvc.cli"], command
            argv[0] = sys.executable
        argv = [
            re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{ports[int(m[1])]}", a)
            for a in argv
        ]
        result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert (result.stdout + result.stderr).splitlines() == expected, command
        assert result.returncode == status, command
    assert "Traceback" not in server.log()


def test_readme_has_every_transcript() -> None:
    assert [(s, c) for s, c, _ in transcripts()] == [
        ("python", "gokit"),
        ("python", "python"),
        ("python-limited", "gokit"),
        ("gokit", "python"),
    ]


# -- this addsvc's wire forms, without Go ----------------------------------------------


async def test_http_speaks_go_kits_wire_form(servers: list[Server], tmp_path: Path) -> None:
    server = python_addsvc(servers, tmp_path, "-unlimited")
    url = f"http://{server.address(server.http)}"
    async with aiohttp.ClientSession(skip_auto_headers=("Content-Type",)) as http:
        # What Go kit's addcli sends: no content type, capitalised names.
        async with http.post(f"{url}/sum", data=b'{"A":1,"B":2}') as r:
            assert (r.status, await r.read()) == (200, b'{"v":3}\n')
            assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        async with http.post(f"{url}/concat", data=b'{"a":"a","b":"b","c":1}') as r:
            assert await r.read() == b'{"v":"ab"}\n'
        async with http.post(f"{url}/sum", data=b'{"a":2147483647,"b":1}') as r:
            assert r.status == 400
            assert await r.json() == {
                "error": "integer overflow",
                "code": "invalid_argument",
                "message": "integer overflow",
                "details": {},
            }
        for body in (b'{"a":1,', b"", b'{"a":"x","b":2}', b'{"a":1.5}', b"[1,2]"):
            async with http.post(f"{url}/sum", data=body) as r:
                assert r.status == 400, body
                assert (await r.json())["code"] == "invalid_argument"
        async with http.post(f"{url}/sum", data=b'{"a":-5,"b":3}') as r:
            assert await r.read() == b'{"v":-2}\n'


async def test_jsonrpc_answers_business_errors_as_errors(
    servers: list[Server], tmp_path: Path
) -> None:
    server = python_addsvc(servers, tmp_path, "-unlimited")
    url = f"http://{server.address(server.jsonrpc)}/"
    go_kit = b'{"jsonrpc":"","method":"sum","params":{"A":1,"B":2},"id":0}\n'
    headers = {"Content-Type": "application/json; charset=utf-8"}  # as Go kit's client
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(url, data=go_kit) as r:
            assert await r.read() == b'{"jsonrpc":"2.0","result":{"v":3},"id":0}'

        async def error(body: bytes) -> dict[str, object]:
            async with http.post(url, data=body) as r:
                assert r.status == 200
                reply = await r.json()
                return reply["error"]  # type: ignore[no-any-return]

        overflow = await error(
            b'{"jsonrpc":"2.0","method":"sum","params":{"a":2147483647,"b":1},"id":3}'
        )
        assert overflow["code"] == -32003 and overflow["message"] == "integer overflow"
        too_long = await error(
            b'{"jsonrpc":"2.0","method":"concat","params":{"a":"12345","b":"678901"},"id":4}'
        )
        assert too_long["message"] == "result exceeds maximum size"
        array = await error(b'{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":5}')
        assert array["code"] == -32602
        assert (await error(b'{"jsonrpc":"2.0","method":"mul","id":6}'))["code"] == -32601


async def test_negative_sums_crash_nothing_and_are_counted(
    servers: list[Server], tmp_path: Path
) -> None:
    server = python_addsvc(servers, tmp_path, "-unlimited")
    http_svc, close_http = transport_http.new_client(server.address(server.http))
    rpc_svc, close_rpc = transport_jsonrpc.new_client(server.address(server.jsonrpc))
    try:
        assert await http_svc.sum(-5, 3) == -2
        assert await rpc_svc.sum(-5, 3) == -2
        assert await rpc_svc.sum(4, 0) == 4
        with pytest.raises(InvalidArgument, match="can't sum two zeroes"):
            await rpc_svc.sum(0, 0)
        assert await http_svc.concat("é", "b") == "éb"
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://{server.address(server.debug)}/metrics") as r,
        ):
            text = await r.text()
    finally:
        await close_http()
        await close_rpc()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples["example_addsvc_integers_summed_total", ()] == 8.0  # |-2| + |-2| + 4 + 0
    assert samples["example_addsvc_characters_concatenated_total", ()] == 3.0  # bytes
    key = (
        "example_addsvc_request_duration_seconds_count",
        (("method", "Sum"), ("success", "true")),
    )
    assert samples[key] == 4.0


async def test_limiter_then_breaker_as_go_kits(servers: list[Server], tmp_path: Path) -> None:
    server = python_addsvc(servers, tmp_path)
    svc, close = transport_http.new_client(server.address(server.http))
    rpc, close_rpc = transport_jsonrpc.new_client(server.address(server.jsonrpc))
    try:
        assert await svc.sum(1, 2) == 3
        for client in (rpc, svc, rpc, svc, rpc, svc):
            with pytest.raises(ResourceExhausted, match="rate limit exceeded"):
                await client.sum(1, 2)
        with pytest.raises(Unavailable, match="circuit breaker is open"):
            await svc.sum(1, 2)
        with pytest.raises(Unavailable, match="circuit breaker is open"):
            await rpc.sum(1, 2)
        assert await rpc.concat("a", "b") == "ab"  # its own limiter and breaker
    finally:
        await close()
        await close_rpc()


def test_grpc_is_reserved_and_refused(tmp_path: Path) -> None:
    serve = subprocess.run(
        [sys.executable, "-m", "examples.addsvc", "-grpc-addr", "127.0.0.1:0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert serve.returncode == 2 and "kit-grpc" in serve.stderr
    cli = subprocess.run(
        [sys.executable, "-m", "examples.addsvc.cli", "-grpc-addr", "127.0.0.1:1", "1", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1
    assert cli.stderr == "error: the gRPC transport comes with kit-grpc: not available yet\n"
