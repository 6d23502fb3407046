"""Loading plugins: stevedore finds and imports the ``kit`` entry points, pluggy calls them.

Each plugin is loaded on its own: one that fails to import, whose hook has the wrong
signature, or whose hook raises is recorded with its error and skipped, and the rest
work. A plugin's registrations land all together or not at all.
"""

from __future__ import annotations

import importlib.metadata
import os
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import click
import pluggy
from stevedore import ExtensionManager
from stevedore.named import NamedExtensionManager

from kitcore.plugins import hookspecs
from kitcore.plugins.registry import Backend, Registry

GROUP = "kit"
"""The entry-point group plugins are published under."""

CORE = "kitcore"


@dataclass
class PluginInfo:
    """What one plugin is and did: hooks, registered backends, commands, and its error."""

    name: str
    module: str = ""
    version: str | None = None
    builtin: bool = False
    disabled: bool = False
    disabled_by: str | None = None
    hooks: list[str] = field(default_factory=list)
    registers: dict[str, list[str]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form used by ``kit plugins --json``."""
        return {
            "name": self.name,
            "version": self.version,
            "module": self.module,
            "builtin": self.builtin,
            "disabled": self.disabled,
            "disabled_by": self.disabled_by,
            "hooks": self.hooks,
            "registers": self.registers,
            "commands": self.commands,
            "error": self.error,
        }


def _names(value: str | None) -> set[str] | None:
    if value is None or not value.strip():
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def _version(name: str, module: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        pass
    dists = importlib.metadata.packages_distributions().get(module.split(".")[0], [])
    for dist in dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _error(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


class Plugins:
    """The plugin manager: loaded plugins, what they registered, and the backend registry."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.infos: list[PluginInfo] = []

    def add(self, plugin: object, name: str, *, builtin: bool = False) -> PluginInfo:
        """Register ``plugin`` (a module or object with hookimpls) and run its hooks."""
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        info = PluginInfo(name=name, module=module, builtin=builtin)
        self.infos.append(info)
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            info.error = _error(exc)
            return info
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin)
            info.error = _error(exc)
            return info
        info.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or ())
        staged: list[Backend] = []
        try:
            for hook, kind in hookspecs.KINDS.items():
                impl = self._impl(hook, name)
                if impl is not None:
                    impl(register=self._stager(kind, name, staged))
        except Exception as exc:
            self.pm.unregister(plugin)
            info.error = f"{_error(exc)}"
            return info
        for backend in staged:
            problem = self.registry.conflict(backend)
            if problem:
                info.error = f"conflict: {problem}"
                continue
            self.registry.add(backend)
            info.registers.setdefault(backend.kind, []).append(backend.name)
        return info

    def _impl(self, hook: str, plugin_name: str) -> Callable[..., Any] | None:
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin_name == plugin_name:
                function: Callable[..., Any] = impl.function
                return function
        return None

    @staticmethod
    def _stager(kind: str, plugin: str, staged: list[Backend]) -> hookspecs.Register:
        def register(name: str, factory: Callable[..., Any], /, **meta: Any) -> None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"{kind} backend name must be a non-empty string, not {name!r}")
            if not callable(factory):
                raise TypeError(f"{kind} backend {name!r}: factory {factory!r} is not callable")
            staged.append(Backend(kind=kind, name=name, factory=factory, plugin=plugin, meta=meta))

        return register

    def load_entry_points(self, env: Mapping[str, str] = os.environ) -> None:
        """Load every ``kit`` entry point, honouring KIT_PLUGINS and KIT_DISABLE_PLUGINS."""
        entry_points = ExtensionManager.make_test_instance([], namespace=GROUP)
        found = sorted(
            {ep.name: ep for ep in entry_points.list_entry_points()}.values(),
            key=lambda ep: ep.name,
        )
        only = _names(env.get("KIT_PLUGINS"))
        disabled = _names(env.get("KIT_DISABLE_PLUGINS")) or set()
        wanted = [
            ep.name for ep in found if (only is None or ep.name in only) and ep.name not in disabled
        ]
        for ep in found:
            if ep.name not in wanted:
                by = "KIT_DISABLE_PLUGINS" if ep.name in disabled else "KIT_PLUGINS"
                self.registry.exclude(ep.name, f"{by}={env[by]}")
                self.infos.append(
                    PluginInfo(
                        name=ep.name,
                        module=ep.module,
                        disabled=True,
                        disabled_by=by,
                        version=_version(ep.name, ep.module),
                    )
                )
        failures: dict[str, BaseException] = {}

        def failed(_: Any, ep: importlib.metadata.EntryPoint, exc: BaseException) -> None:
            failures[ep.name] = exc

        manager: NamedExtensionManager[Any] = NamedExtensionManager(
            GROUP, names=wanted, on_load_failure_callback=failed, name_order=True
        )
        loaded = {ext.name: ext.plugin for ext in manager}
        for ep in found:
            if ep.name not in wanted:
                continue
            if ep.name in failures:
                self.infos.append(
                    PluginInfo(
                        name=ep.name,
                        module=ep.module,
                        version=_version(ep.name, ep.module),
                        error=_error(failures[ep.name]),
                    )
                )
            elif ep.name in loaded:
                info = self.add(loaded[ep.name], ep.name)
                info.module = ep.module
                info.version = _version(ep.name, ep.module)

    def add_commands(self, cli: click.Group) -> None:
        """Let every plugin add its subcommands to the ``kit`` click group."""
        for info in self.infos:
            impl = (
                None
                if info.error or info.disabled
                else self._impl("kit_register_commands", info.name)
            )
            if impl is None:
                continue
            before = set(cli.commands)
            try:
                impl(cli=cli)
            except Exception as exc:
                info.error = _error(exc)
            info.commands = sorted(set(cli.commands) - before)

    def backend(self, kind: str, name: str) -> Backend:
        """Return the registered backend ``name`` of ``kind`` (BackendNotFound names the fix)."""
        return self.registry.get(kind, name)

    def open(self, kind: str, url: str, /, *args: Any, **options: Any) -> Any:
        """Build the backend of ``kind`` that ``url``'s scheme selects."""
        return self.registry.open(kind, url, *args, **options)


def load(
    *,
    entry_points: bool = True,
    extra: Iterable[tuple[str, object]] = (),
    env: Mapping[str, str] = os.environ,
) -> Plugins:
    """Build a plugin manager: the core's built-ins, then ``extra`` plugins, then entry points."""
    from kitcore.plugins import builtin

    plugins = Plugins()
    plugins.add(builtin, CORE, builtin=True).version = _version(CORE, CORE)
    for name, plugin in extra:
        plugins.add(plugin, name)
    if entry_points:
        plugins.load_entry_points(env)
    return plugins
