"""Real servers for tests: etcd, ZooKeeper, dnsmasq and Prometheus as subprocesses.

Discovery and metrics plugins are tested against the real thing, not mocks. Each
launcher here is a plain context manager that starts the Debian-packaged server on free
127.0.0.1 ports with a temporary data directory, waits until it truly answers (a query,
not just an open port), and yields an object whose ``stop()`` and ``start()`` let fault
tests take the server away mid-watch and bring it back on the same ports and data.
On exit the whole process group is killed and the directory removed, so nothing leaks.

``start()`` and ``stop()`` block until the server is up or gone (up to a second or
two; ZooKeeper's JVM is the slowest): from a coroutine with watchers running, call them
through ``await asyncio.to_thread(server.stop)``.

A missing binary skips the test, or fails it under ``KIT_REQUIRE_SERVICES=1`` (see
:mod:`kitcore.testing.services`). Only the standard library is used here.
"""

from __future__ import annotations

import base64
import grp
import json
import os
import pwd
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from kitcore.testing.services import binary, free_port, unavailable

HOST = "127.0.0.1"

# Port-in-use messages of the servers here (Go, Java, dnsmasq): a lost race for a free
# port is retried on fresh ports instead of failing the test.
_PORT_TAKEN = ("address already in use", "address in use", "bindexception")
_PORT_ATTEMPTS = 3


class ServerError(RuntimeError):
    """A server did not start or did not answer in time; the message ends with its log."""


class _PortTaken(ServerError):
    """The server exited because one of its ports was taken meanwhile."""


class ServerProcess:
    """One server subprocess in its own process group, restartable with the same argv."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        ready: Callable[[], bool],
        workdir: Path,
        *,
        start_timeout: float = 30.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.ready = ready
        self.workdir = workdir
        self.start_timeout = start_timeout
        self.env = env
        self.log_path = workdir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """Process id of the running server, or None when stopped."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server and wait until ``ready()`` is true; raise ServerError if not."""
        if self._proc is not None:
            raise ServerError(f"{self.name} is already running")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=self.env,
            start_new_session=True,  # own process group: stop() kills every child too
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                self.stop()
                tail = self.log_tail()
                kind = _PortTaken if any(m in tail.lower() for m in _PORT_TAKEN) else ServerError
                raise kind(f"{self.name} exited with {code} while starting:\n{tail}")
            if self.ready():
                return
            if time.monotonic() > deadline:
                self.stop(kill=True)
                raise ServerError(
                    f"{self.name} did not answer within {self.start_timeout}s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM (SIGKILL when ``kill``), SIGKILL after ``timeout``."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _signal_group(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
            # Children the server started die with their group, even if it exited alone.
            _signal_group(proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines the server wrote (stdout and stderr)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class RealServer:
    """A real server run as one ServerProcess: start, stop and pid, shared by every launcher."""

    process: ServerProcess

    @property
    def pid(self) -> int | None:
        """Process id while running, else None."""
        return self.process.pid

    def start(self) -> None:
        """Start the server (again) on the same ports and data dir; return once it answers."""
        self.process.start()

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server; ``kill=True`` sends SIGKILL, as a crash would."""
        self.process.stop(kill=kill)


S = TypeVar("S", bound=RealServer)


@contextmanager
def _launched(name: str, make: Callable[[Path], S]) -> Iterator[S]:
    """Make a server in a fresh temp dir, start it (retrying lost port races), clean up."""
    root = Path(tempfile.mkdtemp(prefix=f"kit-{name}-"))
    server: S | None = None
    try:
        for attempt in range(_PORT_ATTEMPTS):
            workdir = root / str(attempt)
            workdir.mkdir()
            server = make(workdir)
            try:
                server.start()
                break
            except _PortTaken:
                if attempt == _PORT_ATTEMPTS - 1:
                    raise
        assert server is not None
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


# Straight to the loopback server, whatever HTTP_PROXY the environment sets.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http(url: str, *, data: bytes | None = None, timeout: float = 2.0) -> tuple[int, bytes] | None:
    """GET (or POST ``data`` to) ``url``; the status and body, or None if unreachable."""
    request = urllib.request.Request(url, data=data)
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as err:
        return int(err.code), bytes(err.read())
    except (OSError, ValueError):
        return None


# --- etcd -------------------------------------------------------------------------------


class EtcdServer(RealServer):
    """A single-member etcd (v3 API) on 127.0.0.1; ``url`` is ``host:port`` for clients."""

    def __init__(self, workdir: Path, *, auth: tuple[str, str] | None = None) -> None:
        self.host = HOST
        self.port = free_port(HOST)
        self.peer_port = free_port(HOST)
        self.data_dir = workdir / "data"
        self.auth = auth
        client = f"http://{self.host}:{self.port}"
        peer = f"http://{self.host}:{self.peer_port}"
        argv = [
            binary("etcd", "/usr/bin/etcd"),
            "--name=kit",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=kit={peer}",
            "--initial-cluster-state=new",
            # A lone member elects itself after one election timeout: keep it short.
            "--heartbeat-interval=25",
            "--election-timeout=250",
            "--logger=zap",
            "--log-level=warn",
        ]
        # ETCD_* variables would override or conflict with the flags above.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
        self.process = ServerProcess("etcd", argv, self._healthy, workdir, env=env)
        self._auth_enabled = False

    @property
    def url(self) -> str:
        """``host:port`` of the client endpoint."""
        return f"{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        """``http://host:port`` of the client endpoint."""
        return f"http://{self.url}"

    def start(self) -> None:
        """Start etcd (again) on the same ports and data dir; return once it answers."""
        super().start()
        if self.auth is not None and not self._auth_enabled:
            self._enable_auth(*self.auth)
            self._auth_enabled = True

    def _healthy(self) -> bool:
        answer = _http(f"{self.endpoint}/health", timeout=1.0)
        return answer is not None and answer[0] == 200 and b'"true"' in answer[1]

    def _enable_auth(self, user: str, password: str) -> None:
        # Through etcd's JSON gateway, so etcdctl is not needed. Auth needs a root user
        # with the root role; a non-root user gets read-write on every key.
        calls: list[tuple[str, dict[str, Any]]] = []
        root_password = password if user == "root" else base64.b32encode(os.urandom(10)).decode()
        calls += [
            ("user/add", {"name": "root", "password": root_password}),
            ("role/add", {"name": "root"}),
            ("user/grant", {"user": "root", "role": "root"}),
        ]
        if user != "root":
            every_key = base64.b64encode(b"\0").decode()
            perm = {"permType": "READWRITE", "key": every_key, "range_end": every_key}
            calls += [
                ("user/add", {"name": user, "password": password}),
                ("role/add", {"name": "kit"}),
                ("role/grant", {"name": "kit", "perm": perm}),
                ("user/grant", {"user": user, "role": "kit"}),
            ]
        calls.append(("enable", {}))
        for path, body in calls:
            answer = _http(f"{self.endpoint}/v3/auth/{path}", data=json.dumps(body).encode())
            if answer is None or answer[0] != 200:
                raise ServerError(f"etcd auth setup failed at {path}: {answer!r}")


@contextmanager
def etcd_server(*, auth: tuple[str, str] | None = None) -> Iterator[EtcdServer]:
    """Run a real etcd for the block; with ``auth=(user, password)`` auth is enabled."""
    with _launched("etcd", lambda workdir: EtcdServer(workdir, auth=auth)) as server:
        yield server


# --- ZooKeeper --------------------------------------------------------------------------

# Debian's zookeeper.jar names its dependencies in its manifest's Class-Path; slf4j-simple
# only gives its log a destination.
_ZOOKEEPER_JARS = ("/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar")


def _zookeeper_classpath() -> str:
    override = os.environ.get("KIT_ZOOKEEPER_CLASSPATH")
    if override:
        return override
    if not os.path.exists(_ZOOKEEPER_JARS[0]):
        unavailable("zookeeper is not installed (no /usr/share/java/zookeeper.jar)")
    return ":".join(jar for jar in _ZOOKEEPER_JARS if os.path.exists(jar))


class ZooKeeperServer(RealServer):
    """A standalone ZooKeeper on 127.0.0.1 with a short tick, so sessions expire fast."""

    def __init__(
        self,
        workdir: Path,
        *,
        tick_ms: int = 200,
        min_session_timeout_ms: int | None = None,
        max_session_timeout_ms: int = 10_000,
    ) -> None:
        self.host = HOST
        self.port = free_port(HOST)
        self.data_dir = workdir / "data"
        self.data_dir.mkdir()
        min_timeout = min_session_timeout_ms or 2 * tick_ms
        config = workdir / "zoo.cfg"
        config.write_text(
            "\n".join(
                [
                    f"tickTime={tick_ms}",
                    "initLimit=10",
                    "syncLimit=5",
                    f"dataDir={self.data_dir}",
                    f"clientPort={self.port}",
                    f"clientPortAddress={self.host}",
                    f"minSessionTimeout={min_timeout}",
                    f"maxSessionTimeout={max_session_timeout_ms}",
                    "maxClientCnxns=0",
                    "admin.enableServer=false",
                    "4lw.commands.whitelist=*",
                    "autopurge.purgeInterval=0",
                    "",
                ]
            )
        )
        argv = [
            binary("java", "/usr/lib/jvm/default-java/bin/java"),
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",  # start-up over peak speed
            "-XX:-UsePerfData",  # no /tmp/hsperfdata_* left behind by a SIGKILL
            "-Dzookeeper.admin.enableServer=false",
            "-Dzookeeper.preAllocSize=1024",  # KB; the default preallocates 64 MB logs
            "-cp",
            _zookeeper_classpath(),
            "org.apache.zookeeper.server.ZooKeeperServerMain",
            str(config),
        ]
        self.process = ServerProcess("zookeeper", argv, self._serving, workdir, start_timeout=60)

    @property
    def hosts(self) -> str:
        """``host:port``, the connection string for kazoo."""
        return f"{self.host}:{self.port}"

    def command(self, word: str, timeout: float = 2.0) -> str:
        """Send a four-letter command (``ruok``, ``srvr``, ``dump``, ``cons``...)."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as conn:
            conn.sendall(word.encode())
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def _serving(self) -> bool:
        try:
            return self.command("ruok", 1.0) == "imok" and "Mode:" in self.command("srvr", 1.0)
        except OSError:
            return False


@contextmanager
def zookeeper_server(
    *,
    tick_ms: int = 200,
    min_session_timeout_ms: int | None = None,
    max_session_timeout_ms: int = 10_000,
) -> Iterator[ZooKeeperServer]:
    """Run a real standalone ZooKeeper for the block (session timeouts from 2 ticks)."""

    def make(workdir: Path) -> ZooKeeperServer:
        return ZooKeeperServer(
            workdir,
            tick_ms=tick_ms,
            min_session_timeout_ms=min_session_timeout_ms,
            max_session_timeout_ms=max_session_timeout_ms,
        )

    with _launched("zookeeper", make) as server:
        yield server


# --- dnsmasq ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SrvRecord:
    """An SRV record: ``name`` like ``_http._tcp.svc.local`` pointing at ``target:port``."""

    name: str
    target: str
    port: int
    priority: int = 0
    weight: int = 0

    def config_line(self) -> str:
        """The dnsmasq ``srv-host=`` line."""
        return f"srv-host={self.name},{self.target},{self.port},{self.priority},{self.weight}"


@dataclass(frozen=True)
class HostRecord:
    """An A (or AAAA) record for a name, typically an SRV target."""

    name: str
    address: str

    def config_line(self) -> str:
        """The dnsmasq ``host-record=`` line."""
        return f"host-record={self.name},{self.address}"


DnsRecord = SrvRecord | HostRecord


def _free_dns_port(host: str) -> int:
    """A port free for both TCP and UDP: dnsmasq serves DNS on both."""
    for _ in range(50):
        port = free_port(host)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind((host, port))
            except OSError:
                continue
        return port
    raise ServerError("no port free for both TCP and UDP")


def _dns_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a DNS server at host:port answers a query (any rcode) over UDP."""
    query_id = random.randrange(1 << 16)
    header = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    name = b"".join(bytes([len(label)]) + label for label in b"kit-ready.invalid".split(b"."))
    packet = header + name + b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            # Connected, so a closed port fails at once (ICMP) instead of timing out.
            sock.connect((host, port))
            sock.send(packet)
            reply = sock.recv(512)
        except OSError:
            return False
    return len(reply) >= 12 and struct.unpack(">H", reply[:2])[0] == query_id and reply[2] >= 0x80


class DnsmasqServer(RealServer):
    """dnsmasq serving only the given SRV and host records (NXDOMAIN for anything else)."""

    def __init__(self, workdir: Path, records: Iterable[DnsRecord], *, ttl: int = 1) -> None:
        self.host = HOST
        self.port = _free_dns_port(HOST)
        self.records: tuple[DnsRecord, ...] = tuple(records)
        self.ttl = ttl
        self.workdir = workdir
        self.config = workdir / "dnsmasq.conf"
        self._write_config()
        self._dnsmasq = binary("dnsmasq", "/usr/sbin/dnsmasq")
        self.process = self._process()

    @property
    def nameserver(self) -> str:
        """``host:port`` of the server."""
        return f"{self.host}:{self.port}"

    def set_records(self, records: Iterable[DnsRecord], *, ttl: int | None = None) -> None:
        """Serve ``records`` (and ``ttl``) from now on; a running server is restarted."""
        # SIGHUP rereads hosts files only, not srv-host lines: a restart is required.
        self.records = tuple(records)
        if ttl is not None:
            self.ttl = ttl
        self._write_config()
        was_running = self.process.running
        self.process.stop()
        self.process = self._process()
        if was_running:
            self.process.start()

    def _write_config(self) -> None:
        lines = [record.config_line() for record in self.records]
        # Authoritative for every name: unknown names get NXDOMAIN, as from a real zone,
        # instead of REFUSED for want of an upstream.
        lines.append("local=/#/")
        self.config.write_text("\n".join(lines) + "\n")

    def _process(self) -> ServerProcess:
        argv = [
            self._dnsmasq,
            "--keep-in-foreground",
            f"--conf-file={self.config}",
            "--no-resolv",
            "--no-hosts",
            f"--port={self.port}",
            f"--listen-address={self.host}",
            "--bind-interfaces",
            f"--local-ttl={self.ttl}",
            # dnsmasq drops root for the 'dnsmasq' user by default; stay who we are.
            f"--user={pwd.getpwuid(os.getuid()).pw_name}",
            f"--group={grp.getgrgid(os.getgid()).gr_name}",
            f"--pid-file={self.workdir / 'dnsmasq.pid'}",
            "--log-facility=-",
        ]
        return ServerProcess(
            "dnsmasq", argv, lambda: _dns_answers(self.host, self.port), self.workdir
        )


@contextmanager
def dnsmasq_server(records: Iterable[DnsRecord] = (), *, ttl: int = 1) -> Iterator[DnsmasqServer]:
    """Run dnsmasq for the block, serving ``records`` with TTL ``ttl`` seconds."""
    wanted = tuple(records)
    with _launched("dnsmasq", lambda workdir: DnsmasqServer(workdir, wanted, ttl=ttl)) as server:
        yield server


# --- Prometheus -------------------------------------------------------------------------


class PrometheusServer(RealServer):
    """Prometheus scraping ``targets`` (``host:port``) at ``/metrics`` every interval."""

    def __init__(
        self,
        workdir: Path,
        targets: Iterable[str],
        *,
        scrape_interval: str = "1s",
        metrics_path: str = "/metrics",
        job: str = "kit",
    ) -> None:
        self.host = HOST
        self.port = free_port(HOST)
        self.data_dir = workdir / "data"
        self.targets = tuple(targets)
        config = workdir / "prometheus.yml"
        # JSON is YAML: no YAML writer needed.
        config.write_text(
            json.dumps(
                {
                    "global": {
                        "scrape_interval": scrape_interval,
                        "evaluation_interval": scrape_interval,
                    },
                    "scrape_configs": [
                        {
                            "job_name": job,
                            "metrics_path": metrics_path,
                            "static_configs": [{"targets": list(self.targets)}],
                        }
                    ],
                },
                indent=2,
            )
        )
        argv = [
            binary("prometheus", "/usr/bin/prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address={self.host}:{self.port}",
            "--log.level=warn",
        ]
        self.process = ServerProcess("prometheus", argv, self._ready, workdir)

    @property
    def url(self) -> str:
        """``http://host:port`` of the web and HTTP API."""
        return f"http://{self.host}:{self.port}"

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate ``expr`` now through ``/api/v1/query``; the result list."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        answer = _http(url, timeout=5.0)
        if answer is None:
            raise ServerError(f"prometheus at {self.url} is unreachable")
        body = json.loads(answer[1])
        if body.get("status") != "success":
            raise ServerError(f"prometheus query {expr!r} failed: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_query(
        self,
        expr: str,
        until: Callable[[list[dict[str, Any]]], bool] = bool,
        *,
        timeout: float = 30.0,
    ) -> list[dict[str, Any]]:
        """Repeat ``query(expr)`` until ``until(result)`` holds; raise TimeoutError if not."""
        # Prometheus applies new scrape targets in 5 s batches: the first samples of a
        # fresh server take about that long.
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if until(result):
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expr!r} gave {result} for {timeout}s")
            time.sleep(0.2)

    def _ready(self) -> bool:
        answer = _http(f"{self.url}/-/ready", timeout=1.0)
        return answer is not None and answer[0] == 200


@contextmanager
def prometheus_server(
    targets: Iterable[str], *, scrape_interval: str = "1s", metrics_path: str = "/metrics"
) -> Iterator[PrometheusServer]:
    """Run Prometheus for the block, scraping ``targets`` (``host:port`` strings)."""
    wanted = tuple(targets)

    def make(workdir: Path) -> PrometheusServer:
        return PrometheusServer(
            workdir, wanted, scrape_interval=scrape_interval, metrics_path=metrics_path
        )

    with _launched("prometheus", make) as server:
        yield server
