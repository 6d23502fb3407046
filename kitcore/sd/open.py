"""Opening discovery backends by URL, whichever plugin registered the scheme."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kitcore.sd.instancer import Instancer
    from kitcore.sd.registrar import Registrar


def instancer(url: str, **options: Any) -> Instancer:
    """Open the Instancer ``url`` names: ``static://h1:p1,h2:p2``, ``etcd://h:p/prefix``, ..."""
    from kitcore.plugins import plugins  # deferred: discovery URLs need no plugin machinery

    opened: Instancer = plugins().open("discovery", url, **options)
    return opened


def registrar(url: str, instance: str, **options: Any) -> Registrar:
    """Open a Registrar announcing ``instance`` (``"host:port"``) at the discovery ``url``."""
    from kitcore.plugins import BackendNotFound, plugins, scheme

    backend = plugins().backend("discovery", scheme(url))
    make = backend.meta.get("registrar")
    if make is None:
        raise BackendNotFound(
            f"discovery backend {backend.name}:// (from {backend.plugin}) cannot register instances"
        )
    opened: Registrar = make(url, instance, **options)
    return opened
