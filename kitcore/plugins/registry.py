"""The registry of named backends that plugins register through the hooks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kitcore.plugins.hookspecs import KINDS, PROVIDERS


@dataclass(frozen=True)
class Backend:
    """One registered backend: its kind, name, factory, extras and the plugin that gave it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    meta: Mapping[str, Any] = field(default_factory=dict)


class BackendNotFound(LookupError):
    """No installed plugin registered the backend asked for."""


def scheme(url: str) -> str:
    """Return the backend name a URL or bare name selects: ``etcd://h/p`` -> ``etcd``."""
    return url.split("://", 1)[0] if "://" in url else url


class Registry:
    """Backends by kind and name; the first registration of a name wins, later ones conflict."""

    def __init__(self) -> None:
        self._backends: dict[str, dict[str, Backend]] = {kind: {} for kind in KINDS.values()}
        self._excluded: dict[str, str] = {}

    def exclude(self, plugin: str, setting: str) -> None:
        """Note that installed ``plugin`` was not loaded because of ``setting`` (for errors)."""
        self._excluded[plugin] = setting

    def conflict(self, backend: Backend) -> str | None:
        """Return why ``backend`` cannot be added (its name is taken), or None."""
        if backend.kind not in self._backends:
            return f"unknown backend kind {backend.kind!r}"
        taken = self._backends[backend.kind].get(backend.name)
        if taken is None:
            return None
        return f"{backend.kind} backend {backend.name!r} is already registered by {taken.plugin!r}"

    def add(self, backend: Backend) -> None:
        """Add ``backend``; raise ValueError when its name is taken."""
        problem = self.conflict(backend)
        if problem:
            raise ValueError(problem)
        self._backends[backend.kind][backend.name] = backend

    def names(self, kind: str) -> list[str]:
        """Return the registered backend names of ``kind``, sorted."""
        return sorted(self._backends[kind])

    def get(self, kind: str, name: str) -> Backend:
        """Return the backend ``name`` of ``kind``; raise BackendNotFound naming what to install."""
        backend = self._backends.get(kind, {}).get(name)
        if backend is not None:
            return backend
        installed = ", ".join(self.names(kind)) if kind in self._backends else ""
        hint = PROVIDERS.get(kind, {}).get(name)
        label = f"{name}://" if kind in ("discovery", "transports") else repr(name)
        message = f"no {kind} backend for {label}"
        if hint in self._excluded:
            message += f": {hint} is installed but excluded by {self._excluded[hint]}"
        elif hint:
            message += f": install {hint}"
        message += f" (installed: {installed or 'none'})"
        raise BackendNotFound(message)

    def open(self, kind: str, url: str, /, *args: Any, **options: Any) -> Any:
        """Build the backend that ``url``'s scheme selects: ``factory(url, *args, **options)``."""
        return self.get(kind, scheme(url)).factory(url, *args, **options)
