"""Opening aetcd clients: plain or TLS channels, keepalives, and host rotation.

aetcd 1.0 only dials plaintext channels, so ``EtcdClient`` replaces its ``connect()``
with one that can dial TLS; everything else (auth, KV, leases) is aetcd's. A broken
gRPC channel retries on its own slow schedule (up to minutes), so callers here never
reuse one after an error: they close it and open a new client, with kit's backoff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aetcd  # type: ignore[import-untyped]
import grpc  # type: ignore[import-untyped]
from aetcd import rpc

from kit_etcd.config import EtcdConfig
from kitcore.errors import PermissionDenied, Unauthenticated

# Keepalive pings find a dead peer that never closed the socket (a partition, a host
# gone) while a watch is idle; etcd accepts pings every 5 s or slower by default.
CHANNEL_OPTIONS: dict[str, Any] = {
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_timeout_ms": 5_000,
    "grpc.http2.max_pings_without_data": 0,
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 5_000,
}
"""gRPC channel options of every client opened here."""

_ERRORS = {
    grpc.StatusCode.UNAVAILABLE: aetcd.ConnectionFailedError,
    grpc.StatusCode.DEADLINE_EXCEEDED: aetcd.ConnectionTimeoutError,
    grpc.StatusCode.INVALID_ARGUMENT: aetcd.InvalidArgumentError,
    grpc.StatusCode.FAILED_PRECONDITION: aetcd.PreconditionFailedError,
}


class EtcdAuthError(aetcd.ClientError, Unauthenticated):  # type: ignore[misc]
    """etcd refused the user name and password: the same ones will be refused again."""


class EtcdPermissionError(aetcd.ClientError, PermissionDenied):  # type: ignore[misc]
    """etcd refused an operation to this user (its roles do not grant the key range)."""


# Authenticate answers a bad user or password with INVALID_ARGUMENT.
_LOGIN_REFUSED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
}


def refused(exc: BaseException, what: str) -> EtcdPermissionError | None:
    """An EtcdPermissionError when ``exc`` is etcd denying ``what`` to this user, else None."""
    # aetcd raises a plain ClientError for PERMISSION_DENIED, from the gRPC error.
    rpc_error = exc if isinstance(exc, grpc.aio.AioRpcError) else exc.__cause__
    if (
        isinstance(rpc_error, grpc.aio.AioRpcError)
        and rpc_error.code() == grpc.StatusCode.PERMISSION_DENIED
    ):
        return EtcdPermissionError(f"etcd denied {what}: {rpc_error.details()}")
    return None


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path is not None else None


def credentials(config: EtcdConfig) -> Any:
    """Return gRPC channel credentials for a TLS config, or None for plaintext."""
    if not config.secure:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=_read(config.ca),
        private_key=_read(config.key),
        certificate_chain=_read(config.cert),
    )


class EtcdClient(aetcd.Client):  # type: ignore[misc]
    """An aetcd Client that dials TLS when given channel credentials."""

    def __init__(self, host: str, port: int, *, channel_credentials: Any = None, **kw: Any) -> None:
        super().__init__(host, port, **kw)
        self._channel_credentials = channel_credentials

    async def connect(self) -> None:
        """Open the channel and log in; a no-op once connected."""
        if self._connected.is_set():
            return
        host = f"[{self._host}]" if ":" in self._host else self._host
        target = f"{host}:{self._port}"
        options = list(self._options.items())
        if self._channel_credentials is None:
            channel = grpc.aio.insecure_channel(target, options=options)
        else:
            channel = grpc.aio.secure_channel(target, self._channel_credentials, options=options)
        self.channel = channel
        try:
            if self._username is not None:
                self.auth_stub = rpc.AuthStub(channel)
                request = rpc.AuthenticateRequest(name=self._username, password=self._password)
                reply = await self.auth_stub.Authenticate(request, timeout=self._timeout)
                self.metadata = (("token", reply.token),)
        except grpc.aio.AioRpcError as exc:
            await self.close()
            if exc.code() in _LOGIN_REFUSED:
                raise EtcdAuthError(f"etcd login failed: {exc.details()}") from None
            kind = _ERRORS.get(exc.code(), aetcd.ClientError)
            raise kind(f"etcd login failed: {exc.details()}") from None
        except BaseException:
            await self.close()
            raise
        self.kvstub = rpc.KVStub(channel)
        self.clusterstub = rpc.ClusterStub(channel)
        self.leasestub = rpc.LeaseStub(channel)
        self.maintenancestub = rpc.MaintenanceStub(channel)
        self._watcher = aetcd.Watcher(
            rpc.WatchStub(channel), timeout=self._timeout, metadata=self.metadata
        )
        self._connected.set()

    async def close(self) -> None:
        """Close the channel; safe to call on a client that never connected."""
        channel, watcher = self.channel, self._watcher
        if channel is not None:
            self._init_channel_attrs()
            if watcher is not None:
                await watcher.shutdown()
            self._connected.clear()
            await channel.close()


def open_client(config: EtcdConfig, attempt: int = 0) -> EtcdClient:
    """Return a new, unconnected client for host number ``attempt`` (rotating through hosts)."""
    host, port = config.hosts[attempt % len(config.hosts)]
    return EtcdClient(
        host,
        port,
        username=config.username,
        password=config.password,
        timeout=config.timeout,
        options=dict(CHANNEL_OPTIONS),
        channel_credentials=credentials(config),
    )
