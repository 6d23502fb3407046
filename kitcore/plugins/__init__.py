"""The plugin system: entry-point discovery (stevedore), hooks (pluggy), named backends.

Plugins are distributions publishing a module under the ``kit`` entry-point group whose
functions are marked with ``kitcore.hookimpl``. The one process-wide plugin manager is
built on first use by ``plugins()``; everything else is passed in explicitly.
"""

from __future__ import annotations

from typing import Any

from kitcore.plugins.hookspecs import hookimpl, hookspec
from kitcore.plugins.manager import GROUP, PluginInfo, Plugins, load
from kitcore.plugins.registry import Backend, BackendNotFound, Registry, scheme

__all__ = [
    "GROUP",
    "Backend",
    "BackendNotFound",
    "PluginInfo",
    "Plugins",
    "Registry",
    "hookimpl",
    "hookspec",
    "load",
    "open_backend",
    "plugins",
    "reset",
    "scheme",
]

_plugins: Plugins | None = None


def plugins() -> Plugins:
    """Return the process-wide plugin manager, loading every installed plugin on first use."""
    global _plugins
    if _plugins is None:
        _plugins = load()
    return _plugins


def reset(manager: Plugins | None = None) -> None:
    """Replace the process-wide plugin manager (None: reload on next use); for tests."""
    global _plugins
    _plugins = manager


def open_backend(kind: str, url: str, /, *args: Any, **options: Any) -> Any:
    """Build the backend of ``kind`` selected by ``url`` (``"etcd://h:p/x"``, ``"prometheus"``)."""
    return plugins().open(kind, url, *args, **options)
