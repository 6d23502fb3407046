"""The real-server launchers: each server answers its own protocol, survives stop/start
with its data, and leaves no process or directory behind."""

from __future__ import annotations

import importlib
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kitcore.testing.servers import (
    DnsmasqServer,
    DnsRecord,
    HostRecord,
    SrvRecord,
    dnsmasq_server,
    etcd_server,
    prometheus_server,
    zookeeper_server,
)
from kitcore.testing.services import unavailable


def need(module: str) -> ModuleType:
    """Import a client library; skip (or fail under KIT_REQUIRE_SERVICES) if absent."""
    try:
        return importlib.import_module(module)
    except ImportError:
        unavailable(f"{module} is not installed")


def assert_no_process(pid: int | None) -> None:
    """No process of the server's group is left."""
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the server led its own process group


def assert_gone(pid: int | None, workdir: Path) -> None:
    """No process of the server's group is left, and its temp dir is removed."""
    assert_no_process(pid)
    assert not workdir.parent.exists()


def refused(host: str, port: int) -> bool:
    """True if nothing listens on host:port."""
    try:
        socket.create_connection((host, port), timeout=1.0).close()
    except ConnectionRefusedError:
        return True
    return False


# --- etcd -------------------------------------------------------------------------------


async def test_etcd_serves_v3_and_keeps_keys_across_a_crash() -> None:
    aetcd = need("aetcd")
    with etcd_server() as etcd:
        assert etcd.url == f"127.0.0.1:{etcd.port}"
        async with aetcd.Client(etcd.host, etcd.port) as client:
            await client.put(b"/kit/a", b"1")
        crashed = etcd.pid
        etcd.stop(kill=True)
        assert refused(etcd.host, etcd.port)
        assert_no_process(crashed)
        etcd.start()
        async with aetcd.Client(etcd.host, etcd.port) as client:
            assert (await client.get(b"/kit/a")).value == b"1"
        pid, workdir = etcd.pid, etcd.process.workdir
    assert_gone(pid, workdir)


async def test_etcd_with_auth_accepts_only_the_user() -> None:
    aetcd = need("aetcd")
    with etcd_server(auth=("kit", "s3cret")) as etcd:
        async with aetcd.Client(etcd.host, etcd.port, username="kit", password="s3cret") as client:
            await client.put(b"/kit/a", b"1")
            assert (await client.get(b"/kit/a")).value == b"1"
        for credentials in ({}, {"username": "kit", "password": "wrong"}):
            with pytest.raises(aetcd.exceptions.ClientError):
                async with aetcd.Client(etcd.host, etcd.port, **credentials) as client:
                    await client.get(b"/kit/a")
        etcd.stop()
        etcd.start()  # auth lives in the data dir: still on after a restart
        async with aetcd.Client(etcd.host, etcd.port, username="kit", password="s3cret") as client:
            assert (await client.get(b"/kit/a")).value == b"1"


# --- ZooKeeper --------------------------------------------------------------------------


def test_zookeeper_serves_short_sessions_and_keeps_znodes_across_restart() -> None:
    kazoo_client = need("kazoo.client")
    with zookeeper_server(tick_ms=200) as zk:
        client = kazoo_client.KazooClient(hosts=zk.hosts, timeout=0.5)
        client.start(timeout=10)
        try:
            client.create("/kit/a", b"1", makepath=True)
            client.create("/kit/ephemeral", b"", ephemeral=True)
            assert client.get("/kit/a")[0] == b"1"
            # The server accepted a 500 ms session: the minimum is two 200 ms ticks.
            assert "to=500," in zk.command("cons")
        finally:
            client.stop()
            client.close()
        zk.stop()
        assert refused(zk.host, zk.port)
        zk.start()
        client = kazoo_client.KazooClient(hosts=zk.hosts, timeout=2.0)
        client.start(timeout=10)
        try:
            assert client.get("/kit/a")[0] == b"1"
            assert client.exists("/kit/ephemeral") is None  # its session was closed
        finally:
            client.stop()
            client.close()
        pid, workdir = zk.pid, zk.process.workdir
    assert_gone(pid, workdir)


# --- dnsmasq ----------------------------------------------------------------------------


def resolver_for(server: DnsmasqServer) -> Any:
    """A dnspython async resolver asking only ``server``."""
    resolver = need("dns.asyncresolver").Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.lifetime = 2.0
    return resolver


def srv_answers(answer: Any) -> list[tuple[str, int, int, int]]:
    return sorted((r.target.to_text(), r.port, r.priority, r.weight) for r in answer)


async def test_dnsmasq_serves_srv_records_with_their_ttl_and_new_ones_after_set() -> None:
    dns_resolver = need("dns.resolver")
    records: list[DnsRecord] = [
        SrvRecord("_http._tcp.svc.local", "a.svc.local", 8001, priority=10, weight=5),
        HostRecord("a.svc.local", "127.0.0.2"),
    ]
    with dnsmasq_server(records, ttl=7) as dns:
        resolver = resolver_for(dns)
        answer = await resolver.resolve("_http._tcp.svc.local", "SRV")
        assert srv_answers(answer) == [("a.svc.local.", 8001, 10, 5)]
        assert answer.rrset.ttl == 7
        assert [r.address for r in await resolver.resolve("a.svc.local", "A")] == ["127.0.0.2"]
        with pytest.raises(dns_resolver.NXDOMAIN):
            await resolver.resolve("_http._tcp.other.local", "SRV")

        dns.set_records([*records, SrvRecord("_http._tcp.svc.local", "b.svc.local", 8002)])
        answer = await resolver.resolve("_http._tcp.svc.local", "SRV")
        assert srv_answers(answer) == [("a.svc.local.", 8001, 10, 5), ("b.svc.local.", 8002, 0, 0)]

        dns.stop()
        with pytest.raises((dns_resolver.LifetimeTimeout, dns_resolver.NoNameservers)):
            await resolver.resolve("_http._tcp.svc.local", "SRV", lifetime=0.5)
        dns.set_records(records[1:])  # while stopped: served from the next start
        dns.start()
        with pytest.raises(dns_resolver.NXDOMAIN):
            await resolver.resolve("_http._tcp.svc.local", "SRV")
        pid, workdir = dns.pid, dns.process.workdir
    assert_gone(pid, workdir)


# --- Prometheus -------------------------------------------------------------------------


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"# TYPE kit_test_requests_total counter\nkit_test_requests_total 7\n"
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def metrics_target() -> Iterator[str]:
    """A tiny HTTP server with a /metrics page; yields its ``host:port``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_prometheus_scrapes_a_target_and_keeps_its_samples_across_restart() -> None:
    with metrics_target() as target, prometheus_server([target]) as prom:
        samples = prom.wait_query("kit_test_requests_total")
        assert [(s["metric"]["instance"], s["value"][1]) for s in samples] == [(target, "7")]
        assert [s["value"][1] for s in prom.query('up{job="kit"}')] == ["1"]
        prom.stop()
        assert refused(prom.host, prom.port)
        prom.start()
        # Straight from the data dir: no scrape of the restarted server has run yet.
        assert [s["value"][1] for s in prom.query("kit_test_requests_total")] == ["7"]
        pid, workdir = prom.pid, prom.process.workdir
    assert_gone(pid, workdir)
