"""EtcdInstancer: the instances under an etcd key prefix, kept current by a watch.

An initial range read gives the set and the store revision; a watch on the prefix from
the next revision then applies each put and delete, so no change is missed between the
two and nothing is polled. When the watch fails (etcd down, token expired, stream
cut), an error event keeps the last good set and the instancer reconnects with jittered
backoff, reads the prefix again and watches anew. A watch whose start revision was
compacted away is answered the same way: read again, watch from the new revision.
"""

from __future__ import annotations

from typing import Any

import grpc  # type: ignore[import-untyped]
from aetcd import rpc  # type: ignore[import-untyped]
from aetcd.utils import prefix_range_end  # type: ignore[import-untyped]

from kit_etcd.client import EtcdClient, open_client, refused
from kit_etcd.config import EtcdConfig, parse_url
from kitcore.sd import BaseInstancer, Event


class WatchCanceled(ConnectionError):
    """etcd ended a watch on its own (e.g. permission revoked); the instancer starts over."""


class EtcdInstancer(BaseInstancer):
    """Reports the instances registered under ``config.prefix`` (Go kit's etcdv3 layout).

    ``logger`` is any object with a ``log(**kv)`` method; without one nothing is logged.
    """

    def __init__(self, config: EtcdConfig, *, logger: Any = None) -> None:
        super().__init__()
        self._config = config
        self._logger = logger
        self._client: EtcdClient | None = None
        self._entries: dict[bytes, bytes] = {}

    @classmethod
    def from_url(cls, url: str, *, logger: Any = None, **options: Any) -> EtcdInstancer:
        """Open ``etcd://host:port/prefix?...`` (see ``kit_etcd.parse_url`` for options)."""
        return cls(parse_url(url, **options), logger=logger)

    @property
    def config(self) -> EtcdConfig:
        """What this instancer watches, and how it connects."""
        return self._config

    async def _watch(self) -> None:
        failures = 0  # also picks the next host: each failure moves to the next one
        while True:
            client = self._client = open_client(self._config, failures)
            try:
                await client.connect()
                while True:
                    revision = await self._read(client)
                    failures = 0
                    # Returns only when the revision was compacted: read and watch again.
                    await self._follow(client, revision)
            except Exception as exc:  # every failure is reported and retried
                self._log(level="error", msg="etcd watch failed", url=str(self._config), err=exc)
                self.update(Event(error=exc))
            finally:
                self._client = None
                await client.close()
            await self._config.backoff.sleep(failures)
            failures += 1

    async def _read(self, client: EtcdClient) -> int:
        """Read every key under the prefix, report the set, return the next revision."""
        try:
            reply = await client.get_prefix(self._config.key_prefix)
        except Exception as exc:
            # A user whose roles do not cover the prefix is refused again: a final error.
            denied = refused(exc, f"reading {self._config.key_prefix.decode()}")
            if denied is None:
                raise
            raise denied from exc
        self._entries = {kv.key: kv.value for kv in reply.kvs}
        self._publish()
        return int(reply.header.revision) + 1

    async def _follow(self, client: EtcdClient, revision: int) -> None:
        """Apply watch events from ``revision`` on; return if that revision is compacted."""
        key = self._config.key_prefix
        create = rpc.WatchCreateRequest(
            key=key, range_end=prefix_range_end(key), start_revision=revision
        )
        call = rpc.WatchStub(client.channel).Watch(metadata=client.metadata)
        try:
            await call.write(rpc.WatchRequest(create_request=create))
            while True:
                reply = await call.read()
                if reply is grpc.aio.EOF:
                    raise ConnectionError("etcd closed the watch stream")
                if reply.compact_revision:
                    self._log(level="info", msg="etcd watch compacted", url=str(self._config))
                    return
                if reply.canceled:
                    raise WatchCanceled(reply.cancel_reason or "etcd canceled the watch")
                if not reply.events:
                    continue  # the created notice, or a progress notice
                for event in reply.events:
                    if event.type == rpc.Event.EventType.PUT:
                        self._entries[event.kv.key] = event.kv.value
                    else:
                        self._entries.pop(event.kv.key, None)
                self._publish()
        finally:
            call.cancel()

    def _publish(self) -> None:
        instances = []
        for value in self._entries.values():
            try:
                instance = value.decode().strip()
            except UnicodeDecodeError:
                continue  # not an instance address: nothing a client could dial
            if instance:
                instances.append(instance)
        self.update(Event(instances))

    def _log(self, **kv: Any) -> None:
        if self._logger is not None:
            self._logger.log(**kv)

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()
