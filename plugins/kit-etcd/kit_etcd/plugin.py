"""The kit plugin entry point: registers the ``etcd://`` discovery backend.

Imports happen inside the factories, so listing plugins does not load gRPC.
"""

from __future__ import annotations

from typing import Any

from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register


def etcd_instancer(url: str, **options: Any) -> Any:
    """Open ``etcd://host:port/prefix``: an Instancer watching the prefix."""
    from kit_etcd.instancer import EtcdInstancer

    return EtcdInstancer.from_url(url, **options)


def etcd_registrar(url: str, instance: str, **options: Any) -> Any:
    """Open a Registrar putting ``instance`` under ``etcd://host:port/prefix`` on a lease."""
    from kit_etcd.registrar import EtcdRegistrar

    return EtcdRegistrar.from_url(url, instance, **options)


@hookimpl
def kit_register_discovery(register: Register) -> None:
    """Register ``etcd://`` (Instancer and Registrar)."""
    register(
        "etcd",
        etcd_instancer,
        registrar=etcd_registrar,
        description="etcd v3 (aetcd): watch a key prefix, register on a kept-alive lease",
    )
