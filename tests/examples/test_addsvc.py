"""addsvc: Go kit's wire forms, its rules, and interop with Go kit's own addsvc and addcli.

Go kit's binaries are built from Debian's packages by the anchor's build.sh into a cached
temporary directory; without Go the interop tests skip (and fail under
KIT_REQUIRE_SERVICES=1). The README's transcripts are replayed line by line.
"""

from __future__ import annotations

import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from examples.addsvc import transport_grpc, transport_http, transport_jsonrpc
from kitcore.errors import InvalidArgument, ResourceExhausted, Unavailable
from kitcore.testing.services import free_port, unavailable, wait_port
from tests.examples.conftest import console_spans

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "examples" / "addsvc" / "README.md"
ANCHOR = Path("/work/shared/anchors/gokit-addsvc/build.sh")
GOKIT = Path(tempfile.gettempdir()) / "kit-gokit-addsvc"
BINARIES = ("addsvc", "addcli", "addsvc-nolimit")
README_PORTS = {"python": (8081, 8082, 8084), "gokit": (8181, 8182, 8184)}


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
        args += ["-grpc-addr", self.address(self.grpc)]
        args += ["-jsonrpc-addr", self.address(self.jsonrpc)]
        self.process = subprocess.Popen(
            [*command, *args], cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            for port in (self.debug, self.http, self.grpc, self.jsonrpc):
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
        except subprocess.TimeoutExpired:
            self.process.kill()  # never leave a server behind, even one deaf to SIGTERM
            self.process.wait()
            raise
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
    http_port, grpc_port, jsonrpc_port = README_PORTS[
        "gokit" if server_kind == "gokit" else "python"
    ]
    ports = {http_port: server.http, grpc_port: server.grpc, jsonrpc_port: server.jsonrpc}
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
    grpc_svc, close_grpc = transport_grpc.new_client(server.address(server.grpc))
    try:
        assert await http_svc.sum(-5, 3) == -2
        assert await rpc_svc.sum(-5, 3) == -2
        assert await grpc_svc.sum(-5, 3) == -2
        assert await grpc_svc.sum(-(2**31), 0) == -(2**31)
        with pytest.raises(InvalidArgument, match="integer overflow"):
            await grpc_svc.sum(-(2**31), -1)
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
        await close_grpc()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    # |-2| + |-2| + |-2| + 2^31 + 0 + 4 + 0
    assert samples["example_addsvc_integers_summed_total", ()] == 10.0 + 2**31
    assert samples["example_addsvc_characters_concatenated_total", ()] == 3.0  # bytes
    key = (
        "example_addsvc_request_duration_seconds_count",
        (("method", "Sum"), ("success", "true")),
    )
    assert samples[key] == 7.0  # business errors count as successes, as in Go kit


async def test_limiter_then_breaker_as_go_kits(servers: list[Server], tmp_path: Path) -> None:
    server = python_addsvc(servers, tmp_path)
    svc, close = transport_http.new_client(server.address(server.http))
    rpc, close_rpc = transport_jsonrpc.new_client(server.address(server.jsonrpc))
    grpc_svc, close_grpc = transport_grpc.new_client(server.address(server.grpc))
    try:
        assert await svc.sum(1, 2) == 3
        for client in (grpc_svc, rpc, svc, grpc_svc, rpc, svc):
            with pytest.raises(ResourceExhausted, match="rate limit exceeded"):
                await client.sum(1, 2)
        for client in (svc, rpc, grpc_svc):
            with pytest.raises(Unavailable, match="circuit breaker is open"):
                await client.sum(1, 2)
        assert await grpc_svc.concat("a", "b") == "ab"  # its own limiter and breaker
    finally:
        await close()
        await close_rpc()
        await close_grpc()


# -- gRPC: Go kit's pb.Add -------------------------------------------------------------

GRPC_CASES = [
    ("sum", "1", "2"),
    ("concat", "a", "b"),
    ("sum", "2147483647", "1"),
    ("sum", "0", "0"),
    ("concat", "12345", "678901"),
    ("sum", "-2147483648", "-1"),
    ("sum", "9223372036854775807", "1"),  # int64's largest: still Go kit's int32 rule
    ("concat", "", ""),
]


def addcli(gokit: Path, server: Server, method: str, *args: str) -> tuple[str, str, int]:
    """Go kit's addcli over gRPC: stdout, stderr, exit status."""
    result = subprocess.run(
        [
            str(gokit / "addcli"),
            "-grpc-addr",
            server.address(server.grpc),
            "-method",
            method,
            "--",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout, result.stderr, result.returncode


def test_go_kits_addcli_sees_the_same_over_grpc_from_both_servers(
    gokit: Path, servers: list[Server], tmp_path: Path
) -> None:
    ours = python_addsvc(servers, tmp_path, "-unlimited")
    theirs = gokit_addsvc(servers, tmp_path, gokit)
    for case in GRPC_CASES:
        assert addcli(gokit, ours, *case) == addcli(gokit, theirs, *case), case
    # Where they differ: a negative sum kills Go kit's addsvc (a Prometheus counter
    # panics on a negative add; nothing recovers on its gRPC path), ours answers.
    assert addcli(gokit, ours, "sum", "-5", "3") == ("-5 + 3 = -2\n", "", 0)
    out, err, status = addcli(gokit, theirs, "sum", "-5", "3")
    assert (out, status) == ("", 1) and "code = Unavailable" in err
    assert theirs.process.wait(timeout=15) == 2
    assert "counter cannot decrease in value" in theirs.log()
    assert ours.process.poll() is None


async def test_grpc_speaks_go_kits_wire_form(servers: list[Server], tmp_path: Path) -> None:
    server = python_addsvc(servers, tmp_path, "-unlimited")
    async with grpc.aio.insecure_channel(server.address(server.grpc)) as channel:
        sum_, concat = channel.unary_unary("/pb.Add/Sum"), channel.unary_unary("/pb.Add/Concat")
        # The bytes Go kit's addcli sends and its addsvc answers (the anchor's README).
        call = sum_(bytes.fromhex("08011002"))
        assert await call == bytes.fromhex("0803")
        assert await call.code() is grpc.StatusCode.OK
        call = sum_(bytes.fromhex("08ffffffff071001"))
        assert await call == b"\x12\x10integer overflow"
        assert await call.code() is grpc.StatusCode.OK  # a business error is in-band
        assert await sum_(b"") == b"\x12\x14can't sum two zeroes"  # empty: a=0, b=0
        assert await concat(b"\x0a\x0512345\x12\x06678901") == (
            b"\x12\x1bresult exceeds maximum size"
        )
        assert await concat(b"\x0a\x01a\x12\x01b") == b"\x0a\x02ab"
        # -5 + 3: int64 varints, ten bytes for a negative.
        reply = await sum_(b"\x08" + _varint(2**64 - 5) + b"\x10\x03")
        assert reply == b"\x08" + _varint(2**64 - 2)
        for path, data, code in (
            ("/pb.Add/Sum", b"\xff", grpc.StatusCode.INVALID_ARGUMENT),  # Go kit: INTERNAL
            ("/pb.Add/Sum", b"\x08", grpc.StatusCode.INVALID_ARGUMENT),
            ("/pb.Add/Concat", b"\x0a\x02\xc3\x28", grpc.StatusCode.INVALID_ARGUMENT),
            ("/pb.Add/Mul", b"", grpc.StatusCode.UNIMPLEMENTED),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await channel.unary_unary(path)(data)
            assert err.value.code() is code, (path, data)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=64), concat=st.booleans())
def test_random_bytes_over_grpc_never_internal(
    grpc_addsvc: tuple[Server, grpc.Channel], data: bytes, concat: bool
) -> None:
    server, channel = grpc_addsvc
    call = channel.unary_unary("/pb.Add/Concat" if concat else "/pb.Add/Sum")
    try:
        call(data, timeout=10)
    except grpc.RpcError as exc:
        assert exc.code() is grpc.StatusCode.INVALID_ARGUMENT, (data, exc.details())
    assert server.process.poll() is None


@pytest.fixture
def grpc_addsvc(servers: list[Server], tmp_path: Path) -> Iterator[tuple[Server, grpc.Channel]]:
    """A Python addsvc without limits and a blocking channel to its gRPC port."""
    server = python_addsvc(servers, tmp_path, "-unlimited")
    with grpc.insecure_channel(server.address(server.grpc)) as channel:
        yield server, channel
    assert "Traceback" not in server.log()


def test_a_taken_grpc_port_stops_every_listener() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        others = [f"127.0.0.1:{free_port()}" for _ in range(3)]
        serve = subprocess.run(
            [
                sys.executable,
                "-m",
                "examples.addsvc",
                "-debug.addr",
                others[0],
                "-http-addr",
                others[1],
                "-jsonrpc-addr",
                others[2],
                "-grpc-addr",
                f"127.0.0.1:{port}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert serve.returncode == 1, serve.stderr
    assert f'err="ListenError: cannot listen on 127.0.0.1:{port}: Address already in use"' in (
        serve.stderr
    )
    assert "Traceback" not in serve.stderr


def test_python_addcli_over_grpc_reports_connection_failures(tmp_path: Path) -> None:
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "examples.addsvc.cli",
            "-grpc-addr",
            f"127.0.0.1:{free_port()}",
            "1",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1 and cli.stdout == ""
    assert cli.stderr.startswith("error: ") and "Traceback" not in cli.stderr


# -- tracing: -trace console on addsvc and addcli --------------------------------------

TRACED = [
    # transport, the server's port attribute, rpc.system, rpc.service, rpc.method
    ("http", "http", "kit_http", "addsvc", "sum"),
    ("grpc", "grpc", "grpc", "pb.Add", "Sum"),
    ("jsonrpc", "jsonrpc", "jsonrpc", "addsvc", "sum"),
]


def cli(server: Server, transport: str, *args: str) -> subprocess.CompletedProcess[str]:
    """This addcli calling ``server`` over ``transport`` with ``args`` (flags, then sum's)."""
    port = getattr(server, transport)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "examples.addsvc.cli",
            f"-{transport}-addr",
            server.address(port),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def server_spans(server: Server) -> list[dict[str, Any]]:
    """The spans a traced addsvc printed, once SIGTERM has stopped it (flushed)."""
    assert server.stop() == 0, server.log()
    return console_spans(server.log())


@pytest.mark.parametrize(("transport", "port", "system", "service", "method"), TRACED)
def test_traced_addcli_and_addsvc_give_one_trace(
    servers: list[Server],
    tmp_path: Path,
    transport: str,
    port: str,
    system: str,
    service: str,
    method: str,
) -> None:
    server = python_addsvc(servers, tmp_path, "-unlimited", "-trace", "console")
    result = cli(server, transport, "-trace", "console", "-method", "sum", "1", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "1 + 2 = 3"
    (client,) = console_spans(result.stdout)
    (served,) = server_spans(server)
    assert client["kind"] == "SpanKind.CLIENT" and client["parent_id"] is None
    assert served["kind"] == "SpanKind.SERVER"
    assert served["context"]["trace_id"] == client["context"]["trace_id"]
    assert served["parent_id"] == client["context"]["span_id"]
    assert client["name"] == served["name"] == f"{service}/{method}"
    for span in (client, served):
        attributes = span["attributes"]
        assert (attributes["rpc.system"], attributes["rpc.service"], attributes["rpc.method"]) == (
            system,
            service,
            method,
        )
        assert attributes["server.port"] == getattr(server, port)
        assert span["status"]["status_code"] == "UNSET"
    assert client["resource"]["attributes"]["service.name"] == "addcli"
    assert served["resource"]["attributes"]["service.name"] == "addsvc"
    # The server's log lines of the call carry its trace and span ids.
    trace_id, span_id = served["context"]["trace_id"][2:], served["context"]["span_id"][2:]
    logged = [line for line in server.log().splitlines() if "method=Sum" in line]
    assert len(logged) == 2, server.log()
    assert all(f"trace_id={trace_id} span_id={span_id} " in line for line in logged)
    assert "Traceback" not in server.log()


def test_traced_business_error_is_the_callers_fault_on_both_sides(
    servers: list[Server], tmp_path: Path
) -> None:
    server = python_addsvc(servers, tmp_path, "-unlimited", "-trace", "console")
    http = cli(server, "http", "-trace", "console", "-method", "sum", "2147483647", "1")
    rpc = cli(server, "jsonrpc", "-trace", "console", "-method", "concat", "12345", "678901")
    assert (http.returncode, http.stderr) == (1, "error: integer overflow\n")
    assert (rpc.returncode, rpc.stderr) == (1, "error: result exceeds maximum size\n")
    (http_client,) = console_spans(http.stdout)
    (rpc_client,) = console_spans(rpc.stdout)
    spans = {s["parent_id"]: s for s in server_spans(server)}
    http_served = spans[http_client["context"]["span_id"]]
    rpc_served = spans[rpc_client["context"]["span_id"]]
    assert http_served["attributes"]["http.response.status_code"] == 400
    assert rpc_served["attributes"]["rpc.jsonrpc.error_code"] == -32003
    assert rpc_served["attributes"]["error.type"] == "invalid_argument"
    # An InvalidArgument is the caller's: no error status on the server's spans.
    assert http_served["status"]["status_code"] == rpc_served["status"]["status_code"] == "UNSET"
    assert rpc_client["attributes"]["error.type"] == "invalid_argument"


@pytest.mark.parametrize("transport", ["http", "grpc", "jsonrpc"])
def test_go_kits_untraced_addcli_starts_a_new_trace_on_the_traced_addsvc(
    gokit: Path, servers: list[Server], tmp_path: Path, transport: str
) -> None:
    server = python_addsvc(servers, tmp_path, "-unlimited", "-trace", "console")
    port = getattr(server, transport)
    for _ in range(2):
        result = subprocess.run(
            [str(gokit / "addcli"), f"-{transport}-addr", server.address(port), "1", "2"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.stdout, result.stderr, result.returncode) == ("1 + 2 = 3\n", "", 0)
    spans = server_spans(server)
    assert [s["kind"] for s in spans] == ["SpanKind.SERVER"] * 2
    assert all(s["parent_id"] is None for s in spans)
    assert spans[0]["context"]["trace_id"] != spans[1]["context"]["trace_id"]


def test_addsvc_and_addcli_refuse_a_bad_trace_url() -> None:
    serve = subprocess.run(
        [sys.executable, "-m", "examples.addsvc", "-trace", "jaeger://nowhere:1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert serve.returncode == 1
    assert "Traceback" not in serve.stderr
    assert "err=\"ValueError: unknown tracing URL 'jaeger://nowhere:1'" in serve.stderr
    argv = ["-http-addr", "127.0.0.1:1", "-trace", "console?sample=2", "1", "2"]
    call = subprocess.run(
        [sys.executable, "-m", "examples.addsvc.cli", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (call.returncode, call.stdout) == (1, "")
    assert call.stderr == "error: sample must be a ratio in [0, 1], got 2.0\n"
