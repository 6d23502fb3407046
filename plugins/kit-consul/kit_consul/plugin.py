"""The kit plugin entry point: registers ``consul://`` discovery (Instancer and Registrar).

py-consul and aiohttp are imported only when a ``consul://`` URL is opened, so listing
plugins stays cheap.
"""

from __future__ import annotations

from typing import Any

from kit_consul.options import SCHEME
from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register


def open_instancer(url: str, **options: Any) -> Any:
    """Open ``consul://host:port/service?tag=..&passing=1`` as a ConsulInstancer."""
    from kit_consul.instancer import ConsulInstancer

    return ConsulInstancer.from_url(url, **options)


def open_registrar(url: str, instance: str, **options: Any) -> Any:
    """Open a ConsulRegistrar announcing ``instance`` at ``consul://host:port/service``."""
    from kit_consul.registrar import ConsulRegistrar

    return ConsulRegistrar.from_url(url, instance, **options)


@hookimpl
def kit_register_discovery(register: Register) -> None:
    """Register ``consul://`` with its instancer and registrar."""
    register(
        SCHEME,
        open_instancer,
        registrar=open_registrar,
        description="Consul health queries and agent services (py-consul)",
    )
