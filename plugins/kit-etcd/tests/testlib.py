"""Helpers for kit-etcd's tests: direct etcd access, the suite's driver, event waits, TLS.

Loaded by conftest.py as ``kit_etcd_testlib`` (under ``--import-mode=importlib`` a test
module cannot import a sibling module by itself).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aetcd
from kit_etcd import EtcdConfig, EtcdInstancer, parse_url

from kitcore.backoff import Backoff
from kitcore.testing.servers import EtcdServer, ServerProcess
from kitcore.testing.services import binary, free_port

FAST = Backoff(base=0.01, cap=0.2)
"""Reconnection backoff for tests: recovery within a fraction of a second."""


class Recorder:
    """A logger (``log(**kv)``) keeping every record, to check what would be logged."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def log(self, **kv: Any) -> None:
        """Keep the record."""
        self.records.append(kv)

    def text(self) -> str:
        """Every record as text, as a log line would show it."""
        return "\n".join(" ".join(f"{k}={v!s}" for k, v in r.items()) for r in self.records)


@dataclass
class Etcd:
    """Reaches one etcd server directly through aetcd, for drivers and checks."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None

    def client(self) -> aetcd.Client:
        """A new plain aetcd client (a fresh channel: a restarted server answers at once)."""
        return aetcd.Client(self.host, self.port, username=self.username, password=self.password)

    async def put(self, key: str, value: str, lease: int | None = None) -> None:
        """Put ``key`` = ``value``."""
        async with self.client() as client:
            await client.put(key.encode(), value.encode(), lease=lease)

    async def delete(self, key: str) -> None:
        """Delete ``key``."""
        async with self.client() as client:
            await client.delete(key.encode())

    async def values(self, prefix: str) -> dict[str, str]:
        """Every key under ``prefix`` and its value."""
        async with self.client() as client:
            reply = await client.get_prefix(prefix.encode())
            return {kv.key.decode(): kv.value.decode() for kv in reply}


class EtcdDriver:
    """The conformance suite's driver: instances as ``prefix/instance`` keys."""

    def __init__(self, server: EtcdServer, prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self.etcd = Etcd(server.host, server.port)

    async def add(self, instance: str) -> None:
        """Register ``instance`` as Go kit's etcdv3 Registrar would."""
        await self.etcd.put(f"{self.prefix}/{instance}", instance)

    async def remove(self, instance: str) -> None:
        """Delete ``instance``'s key."""
        await self.etcd.delete(f"{self.prefix}/{instance}")

    async def break_(self) -> None:
        """Stop etcd."""
        await asyncio.to_thread(self.server.stop)

    async def restore(self) -> None:
        """Start etcd again, with its data."""
        await asyncio.to_thread(self.server.start)


def instancer(url: str, **options: Any) -> EtcdInstancer:
    """An EtcdInstancer with the tests' fast backoff."""
    options.setdefault("backoff", FAST)
    return EtcdInstancer.from_url(url, **options)


def config(url: str, **options: Any) -> EtcdConfig:
    """A config with the tests' fast backoff."""
    options.setdefault("backoff", FAST)
    return parse_url(url, **options)


# --- TLS --------------------------------------------------------------------------------


@dataclass
class TlsFiles:
    """A CA, a server certificate for 127.0.0.1, and a client certificate (PEM files)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str) -> None:
    subprocess.run(
        [binary("openssl"), *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def make_tls_files(directory: Path) -> TlsFiles:
    """Generate the CA and the two certificates (EC keys: quick) with the openssl command."""
    d = directory
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *key, "-days", "1", "-subj", "/CN=kit-ca",
             "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))  # fmt: skip
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "")):
        (d / f"{name}.ext").write_text(f"basicConstraints=CA:FALSE\n{ext}\n")
        _openssl("req", *key, "-subj", f"/CN=kit-{name}",
                 "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))  # fmt: skip
        _openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-days", "1",
                 "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"), "-CAcreateserial",
                 "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.pem"))  # fmt: skip
    return TlsFiles(
        ca=d / "ca.pem",
        server_cert=d / "server.pem",
        server_key=d / "server.key",
        client_cert=d / "client.pem",
        client_key=d / "client.key",
    )


class TlsEtcd:
    """etcd serving clients over TLS only, and requiring a client certificate."""

    def __init__(self, workdir: Path, files: TlsFiles) -> None:
        self.host = "127.0.0.1"
        self.port = free_port(self.host)
        peer = f"http://{self.host}:{free_port(self.host)}"
        client = f"https://{self.host}:{self.port}"
        self.files = files
        argv = [
            binary("etcd", "/usr/bin/etcd"),
            "--name=kit",
            f"--data-dir={workdir / 'data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=kit={peer}",
            f"--cert-file={files.server_cert}",
            f"--key-file={files.server_key}",
            f"--trusted-ca-file={files.ca}",
            "--client-cert-auth",
            "--heartbeat-interval=25",
            "--election-timeout=250",
            "--log-level=warn",
            "--logger=zap",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
        self.process = ServerProcess("etcd-tls", argv, self._healthy, workdir, env=env)

    def _healthy(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.files.ca))
        context.load_cert_chain(str(self.files.client_cert), str(self.files.client_key))
        try:
            with urllib.request.urlopen(
                f"https://{self.host}:{self.port}/health", timeout=1.0, context=context
            ) as answer:
                return b'"true"' in answer.read()
        except OSError:
            return False
