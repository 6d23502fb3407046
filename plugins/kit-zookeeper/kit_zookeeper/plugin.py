"""The kit plugin entry point: registers the ``zk://`` discovery backend.

Imports happen inside the factories, so listing plugins does not load kazoo.
"""

from __future__ import annotations

from typing import Any

from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register


def zk_instancer(url: str, **options: Any) -> Any:
    """Open ``zk://host:port/path``: an Instancer watching the path's children."""
    from kit_zookeeper.instancer import ZooKeeperInstancer

    return ZooKeeperInstancer.from_url(url, **options)


def zk_registrar(url: str, instance: str, **options: Any) -> Any:
    """Open a Registrar creating an ephemeral node for ``instance`` under ``zk://host:port/path``."""
    from kit_zookeeper.registrar import ZooKeeperRegistrar

    return ZooKeeperRegistrar.from_url(url, instance, **options)


@hookimpl
def kit_register_discovery(register: Register) -> None:
    """Register ``zk://`` (Instancer and Registrar)."""
    register(
        "zk",
        zk_instancer,
        registrar=zk_registrar,
        description="ZooKeeper (kazoo): watch a path's children, register ephemeral nodes",
    )
