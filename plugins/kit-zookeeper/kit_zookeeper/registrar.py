"""ZooKeeperRegistrar: one instance as an ephemeral sequential node, as long as it lives.

The node lives exactly as long as the ZooKeeper session: if the process dies, the
session times out and ZooKeeper deletes the node. If the session expires while the
process lives (a long partition, a paused process), kazoo opens a new session and the
registrar creates the node again in it. Node names follow Go's "protected" sequential
create, ``_c_<guid>-instance<seq>``: a create retried after a lost reply finds the node
it already made instead of making a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from kazoo.client import KazooState  # type: ignore[import-untyped]
from kazoo.exceptions import (  # type: ignore[import-untyped]
    AuthFailedError,
    NoAuthError,
    NoNodeError,
)

from kit_zookeeper.config import ZooKeeperConfig, parse_url
from kit_zookeeper.session import Session
from kitcore.errors import PermissionDenied, Unauthenticated
from kitcore.sd import BaseRegistrar


class ZooKeeperRegistrar(BaseRegistrar):
    """Registers ``instance`` (``"host:port"``) as a child node of ``config.path``.

    ``logger`` is any object with a ``log(**kv)`` method; without one nothing is logged.
    """

    def __init__(self, config: ZooKeeperConfig, instance: str, *, logger: Any = None) -> None:
        super().__init__()
        if not instance or instance != instance.strip():
            raise ValueError(f"zk instance must be a non-empty host:port, got {instance!r}")
        self._config = config
        self._instance = instance
        self._logger = logger
        self._prefix = f"_c_{uuid.uuid4().hex}-instance"
        self._session: Session | None = None
        self._node: str | None = None
        self._wanted = False  # between register() and deregister()/close()
        self._expired = False
        self._recreating: asyncio.Task[None] | None = None

    @classmethod
    def from_url(
        cls, url: str, instance: str, *, logger: Any = None, **options: Any
    ) -> ZooKeeperRegistrar:
        """Open a Registrar for ``instance`` at ``zk://host:port/path?session_timeout=..``."""
        return cls(parse_url(url, **options), instance, logger=logger)

    @property
    def node(self) -> str | None:
        """The path of this instance's node while registered, else None."""
        return self._node

    @property
    def session(self) -> Session | None:
        """The kazoo session once opened, else None (for diagnostics)."""
        return self._session

    async def _register(self) -> None:
        session = await self._open()
        self._wanted = True
        # Refusals are final (kitcore.sd.is_final): the same identity is refused again.
        try:
            await self._create(session)
        except NoAuthError as exc:
            raise PermissionDenied(
                f"zookeeper denied registering under {self._config.path}: {type(exc).__name__}"
            ) from exc
        except AuthFailedError as exc:
            raise Unauthenticated(
                f"zookeeper refused the credentials: {type(exc).__name__}"
            ) from exc

    async def _deregister(self) -> None:
        self._wanted = False
        await self._stop_recreating()
        session = await self._open()
        await self._delete_mine(session)
        self._node = None

    async def _close(self) -> None:
        self._wanted = False
        await self._stop_recreating()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _open(self) -> Session:
        if self._session is None:
            self._session = Session(self._config, self._on_state)
            await self._session.start()
        if not await self._session.wait_connected(self._config.connect_timeout):
            raise ConnectionError(f"cannot reach ZooKeeper at {self._config}")
        return self._session

    async def _mine(self, session: Session) -> list[str]:
        names = await session.run(session.client.get_children_async, self._config.path)
        return sorted(name for name in names if name.startswith(self._prefix))

    async def _create(self, session: Session) -> None:
        client, path = session.client, self._config.path
        await session.run(client.ensure_path_async, path, acl=self._config.acl)
        mine = await self._mine(session)
        if mine:  # registered already, or a create whose reply was lost made it
            self._node = f"{path}/{mine[0]}"
            return
        self._node = await session.run(
            client.create_async,
            f"{path}/{self._prefix}",
            self._instance.encode(),
            acl=self._config.acl,
            ephemeral=True,
            sequence=True,
        )

    async def _delete_mine(self, session: Session) -> None:
        for name in await self._mine(session):
            with contextlib.suppress(NoNodeError):  # gone with an expired session meanwhile
                await session.run(session.client.delete_async, f"{self._config.path}/{name}")

    def _on_state(self, state: str) -> None:
        if state == KazooState.LOST:
            self._expired = True  # the session, and the node with it, is gone
            self._node = None
        elif state == KazooState.CONNECTED and self._expired:
            self._expired = False
            if self._wanted and (self._recreating is None or self._recreating.done()):
                self._recreating = asyncio.get_running_loop().create_task(
                    self._recreate(), name=f"ZooKeeperRegistrar._recreate {self._instance}"
                )

    async def _recreate(self) -> None:
        failures = 0
        while self._wanted and self._session is not None:
            try:
                await self._create(self._session)
            except Exception as exc:  # keep trying while registered
                self._log(level="error", msg="zookeeper re-registration failed", err=exc)
                await self._config.backoff.sleep(failures)
                failures += 1
                continue
            self._log(level="info", msg="zookeeper session expired, registered again",
                      node=self._node)  # fmt: skip
            return

    async def _stop_recreating(self) -> None:
        task, self._recreating = self._recreating, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})

    def _log(self, **kv: Any) -> None:
        if self._logger is not None:
            self._logger.log(**kv)
