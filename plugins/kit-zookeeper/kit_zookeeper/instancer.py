"""ZooKeeperInstancer: the children of a ZooKeeper path, kept current by child watches.

Each listing of the path's children sets a one-shot child watch; when it fires, the
instancer lists again, which sets the next one, so no change is missed and nothing is
polled. Child data (the instance address) is read once per child: sequential node names
are never reused, so a name seen before has the data seen before. A missing path is no
instances, with a watch for its creation. A suspended connection or a lost session is
an error event keeping the last good set; kazoo reconnects (with the configured backoff)
and the instancer lists again once connected. A refusal (no READ on the path for these
credentials) is a final error, kit's ``PermissionDenied``: retried still, as an ACL may
change, but a gateway that meets it at start exits.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kazoo.client import KazooState  # type: ignore[import-untyped]
from kazoo.exceptions import (  # type: ignore[import-untyped]
    AuthFailedError,
    NoAuthError,
    NoNodeError,
)

from kit_zookeeper.config import ZooKeeperConfig, parse_url
from kit_zookeeper.session import Session, wait_event
from kitcore.errors import KitError, PermissionDenied, Unauthenticated
from kitcore.sd import BaseInstancer, Event


def refusal(exc: BaseException, *, path: str) -> KitError | None:
    """``exc`` as a final error (``kitcore.sd.is_final``) when ZooKeeper refused who we
    are, as the registrar reports it; None for any other error."""
    error: KitError
    if isinstance(exc, NoAuthError):
        error = PermissionDenied(f"zookeeper denied reading {path}: {type(exc).__name__}")
    elif isinstance(exc, AuthFailedError):
        error = Unauthenticated(f"zookeeper refused the credentials: {type(exc).__name__}")
    else:
        return None
    error.__cause__ = exc
    return error


class ZooKeeperInstancer(BaseInstancer):
    """Reports the instances registered as children of ``config.path`` (Go kit's zk layout).

    ``logger`` is any object with a ``log(**kv)`` method; without one nothing is logged.
    """

    def __init__(self, config: ZooKeeperConfig, *, logger: Any = None) -> None:
        super().__init__()
        self._config = config
        self._logger = logger
        self._session: Session | None = None
        self._changed: asyncio.Event | None = None
        self._data: dict[str, str] = {}  # child name -> instance ("" when not an address)

    @classmethod
    def from_url(cls, url: str, *, logger: Any = None, **options: Any) -> ZooKeeperInstancer:
        """Open ``zk://host:port/path?...`` (see ``kit_zookeeper.parse_url`` for options)."""
        return cls(parse_url(url, **options), logger=logger)

    @property
    def config(self) -> ZooKeeperConfig:
        """What this instancer watches, and how it connects."""
        return self._config

    @property
    def session(self) -> Session | None:
        """The kazoo session while watching, else None (for diagnostics)."""
        return self._session

    async def _watch(self) -> None:
        changed = self._changed = asyncio.Event()
        session = self._session = Session(self._config, self._on_state)
        watch = session.notifier(changed.set)
        await session.start()
        failures = 0
        while True:
            if not await session.wait_connected(self._config.connect_timeout):
                self._fail(ConnectionError(f"cannot reach ZooKeeper at {self._config}"))
                await session.wait_connected(None)
            changed.clear()  # before listing: a watch firing from here on is not lost
            try:
                instances = await self._list(session, watch)
            except Exception as exc:  # reported; retried on reconnection or after a backoff
                self._fail(refusal(exc, path=self._config.path) or exc)
                await wait_event(changed, self._config.backoff.delay(failures))
                failures += 1
                continue
            failures = 0
            self.update(Event(instances))
            await changed.wait()

    async def _list(self, session: Session, watch: Any) -> list[str]:
        client, path = session.client, self._config.path
        while True:
            try:
                names = await session.run(client.get_children_async, path, watch=watch)
                break
            except NoNodeError:
                # No path, no instances; a data watch tells when it is created.
                if await session.run(client.exists_async, path, watch=watch) is None:
                    self._data.clear()
                    return []
        fresh = [name for name in names if name not in self._data]
        found = await asyncio.gather(*(self._read(session, f"{path}/{n}") for n in fresh))
        self._data = {name: self._data.get(name, "") for name in names}
        for name, instance in zip(fresh, found, strict=True):
            if instance is None:
                del self._data[name]  # gone already; its removal fired the watch
            else:
                self._data[name] = instance
        return [instance for instance in self._data.values() if instance]

    @staticmethod
    async def _read(session: Session, node: str) -> str | None:
        try:
            data, _stat = await session.run(session.client.get_async, node)
        except NoNodeError:
            return None
        try:
            return str(data.decode().strip())
        except UnicodeDecodeError:
            return ""  # not an address a client could dial

    def _on_state(self, state: str) -> None:
        if state == KazooState.SUSPENDED:
            self._fail(ConnectionError("ZooKeeper connection lost; reconnecting"))
        elif state == KazooState.LOST:
            self._fail(ConnectionError("ZooKeeper session expired; reconnecting"))
        if self._changed is not None:
            self._changed.set()  # connected again (or not): list again

    def _fail(self, error: BaseException) -> None:
        self._log(level="error", msg="zookeeper watch failed", url=str(self._config), err=error)
        self.update(Event(error=error))

    def _log(self, **kv: Any) -> None:
        if self._logger is not None:
            self._logger.log(**kv)

    async def _close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
