"""EtcdRegistrar: one instance as a key on a lease, kept alive while the process lives.

The key ``prefix/instance`` (value: the instance) is put on a lease of ``ttl`` seconds
that a background task refreshes every third of the TTL. If the process dies, the lease
runs out and etcd deletes the key: no stale instance outlives its process by more than
the TTL. If the lease is lost while the process lives (it expired during an outage, or
someone revoked it), the task notices on its next refresh and registers again on a new
lease. Connection failures are retried on a fresh connection with jittered backoff.

A refusal is final and says so by its type: bad credentials raise ``EtcdAuthError``
(kit's ``Unauthenticated``), a user whose roles do not cover the prefix
``EtcdPermissionError`` (``PermissionDenied``); ``kitcore.sd.register_with_backoff``
retries everything else and gives up on those at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aetcd  # type: ignore[import-untyped]

from kit_etcd.client import EtcdClient, open_client, refused
from kit_etcd.config import EtcdConfig, parse_url
from kitcore.sd import BaseRegistrar

T = TypeVar("T")


class EtcdRegistrar(BaseRegistrar):
    """Registers ``instance`` (``"host:port"``) under ``config.prefix`` on a kept-alive lease.

    ``logger`` is any object with a ``log(**kv)`` method; without one nothing is logged.
    """

    def __init__(self, config: EtcdConfig, instance: str, *, logger: Any = None) -> None:
        super().__init__()
        if not instance or instance != instance.strip() or "/" in instance:
            raise ValueError(f"etcd instance must be a non-empty host:port, got {instance!r}")
        self._config = config
        self._instance = instance
        self._logger = logger
        self._client: EtcdClient | None = None
        self._failures = 0
        self._lease_id: int | None = None
        self._lease_ttl = config.ttl
        self._keeper: asyncio.Task[None] | None = None

    @classmethod
    def from_url(
        cls, url: str, instance: str, *, logger: Any = None, **options: Any
    ) -> EtcdRegistrar:
        """Open a Registrar for ``instance`` at ``etcd://host:port/prefix?ttl=..``."""
        return cls(parse_url(url, **options), instance, logger=logger)

    @property
    def key(self) -> bytes:
        """The key this instance is registered under."""
        return self._config.instance_key(self._instance)

    @property
    def lease_id(self) -> int | None:
        """The lease the key is on while registered, else None."""
        return self._lease_id

    async def _register(self) -> None:
        await self._stop_keeper()
        old = self._lease_id
        try:
            await self._retrying(self._put_on_new_lease)
        finally:
            # Registered before and failed now: keep the old registration alive.
            if self._lease_id is not None:
                self._keeper = asyncio.get_running_loop().create_task(
                    self._keep_alive(), name=f"EtcdRegistrar._keep_alive {self._instance}"
                )
        if old is not None and old != self._lease_id:
            await self._revoke_quietly(old)

    async def _deregister(self) -> None:
        await self._stop_keeper()
        lease, self._lease_id = self._lease_id, None

        async def delete(client: EtcdClient) -> None:
            await client.delete(self.key)

        await self._retrying(delete)
        if lease is not None:
            await self._revoke_quietly(lease)

    async def _close(self) -> None:
        await self._stop_keeper()
        await self._disconnect()

    async def _put_on_new_lease(self, client: EtcdClient) -> None:
        try:
            lease = await client.lease(self._config.ttl)
            await client.put(self.key, self._instance.encode(), lease=lease.id)
        except Exception as exc:
            denied = refused(exc, f"registering {self.key.decode()}")
            if denied is None:
                raise
            raise denied from exc
        self._lease_id, self._lease_ttl = int(lease.id), int(lease.ttl)

    async def _keep_alive(self) -> None:
        failures = 0
        while True:
            if failures:
                await self._config.backoff.sleep(failures - 1)
            else:
                await asyncio.sleep(max(self._lease_ttl, 1) / 3)
            try:
                client = await self._connected()
                reply = await client.refresh_lease(self._lease_id)
                if reply is None or reply.TTL <= 0:
                    self._log(level="warn", msg="etcd lease lost, registering again", key=self.key)
                    await self._put_on_new_lease(client)
                failures = 0
            except Exception as exc:  # keep trying: the process is still alive
                self._log(level="error", msg="etcd lease keepalive failed", key=self.key, err=exc)
                await self._disconnect()
                failures += 1

    async def _stop_keeper(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None and not keeper.done():
            keeper.cancel()
            await asyncio.wait({keeper})

    async def _connected(self) -> EtcdClient:
        if self._client is None:
            client = open_client(self._config, self._failures)
            try:
                await client.connect()
            except BaseException:
                self._failures += 1  # the next connection tries the next host
                raise
            self._client = client
        return self._client

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self._failures += 1  # the next connection tries the next host
            await client.close()

    async def _retrying(self, operation: Callable[[EtcdClient], Awaitable[T]]) -> T:
        """Run ``operation``; after a client error, once more on a fresh connection."""
        try:
            return await operation(await self._connected())
        except aetcd.ClientError:
            # A restarted server or an expired auth token: a new connection fixes both.
            await self._disconnect()
        return await operation(await self._connected())

    async def _revoke_quietly(self, lease: int) -> None:
        # The key is already gone or moved; an unrevoked lease just runs out on its own.
        with contextlib.suppress(aetcd.ClientError):
            client = await self._connected()
            await client.revoke_lease(lease)

    def _log(self, **kv: Any) -> None:
        if self._logger is not None:
            self._logger.log(**kv)
