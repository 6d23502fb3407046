"""The plugin manager in process: registration, conflicts, failures, lookups."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from kitcore import hookimpl
from kitcore.plugins import BackendNotFound, load


def factory(url: str, **options: Any) -> tuple[str, dict[str, Any]]:
    return url, options


class Discovery:
    @hookimpl
    def kit_register_discovery(self, register: Any) -> None:
        register("etcd", factory, registrar=factory)


class Metrics:
    @hookimpl
    def kit_register_metrics(self, register: Any) -> None:
        register("prometheus", factory)

    @hookimpl
    def kit_register_limiters(self, register: Any) -> None:
        register("fixed", factory)


class Raising:
    @hookimpl
    def kit_register_metrics(self, register: Any) -> None:
        register("statsd", factory)
        raise RuntimeError("hook exploded")


class WrongSignature:
    @hookimpl
    def kit_register_metrics(self, register: Any, extra: Any) -> None:
        pass


class UnknownHook:
    @hookimpl
    def kit_register_teleporters(self, register: Any) -> None:
        pass


def test_backends_register_and_open_by_url() -> None:
    plugins = load(entry_points=False, extra=[("kit-etcd", Discovery()), ("kit-m", Metrics())])
    assert plugins.open("discovery", "etcd://127.0.0.1:2379/svc", ttl=3) == (
        "etcd://127.0.0.1:2379/svc",
        {"ttl": 3},
    )
    backend = plugins.backend("discovery", "etcd")
    assert backend.plugin == "kit-etcd" and backend.meta["registrar"] is factory
    assert plugins.open("metrics", "prometheus") == ("prometheus", {})
    infos = {i.name: i for i in plugins.infos}
    assert infos["kit-m"].registers == {"metrics": ["prometheus"], "limiters": ["fixed"]}
    assert infos["kit-m"].hooks == ["kit_register_limiters", "kit_register_metrics"]
    assert infos["kit-m"].error is None


def test_core_builtins_are_registered() -> None:
    plugins = load(entry_points=False)
    core = plugins.infos[0]
    assert core.builtin and core.name == "kitcore" and core.version
    assert "static" in core.registers["discovery"]
    assert {"memory", "discard"} <= set(core.registers["metrics"])


def test_missing_backend_names_what_is_installed_and_what_provides_it() -> None:
    plugins = load(entry_points=False)
    with pytest.raises(BackendNotFound) as info:
        plugins.open("discovery", "consul://127.0.0.1:8500/stringsvc")
    message = str(info.value)
    assert "no discovery backend for consul://" in message
    assert "install kit-consul" in message
    assert "static" in message
    with pytest.raises(BackendNotFound, match="no metrics backend for 'carbon'"):
        plugins.backend("metrics", "carbon")


def test_a_claimed_name_is_reported_not_overwritten() -> None:
    plugins = load(entry_points=False, extra=[("first", Discovery()), ("second", Discovery())])
    assert plugins.backend("discovery", "etcd").plugin == "first"
    second = next(i for i in plugins.infos if i.name == "second")
    assert second.error is not None and "already registered by 'first'" in second.error
    assert second.registers == {}


def test_a_raising_hook_is_reported_and_its_registrations_dropped() -> None:
    plugins = load(entry_points=False, extra=[("bad", Raising()), ("good", Metrics())])
    bad = next(i for i in plugins.infos if i.name == "bad")
    assert bad.error is not None and "hook exploded" in bad.error
    assert "statsd" not in plugins.registry.names("metrics")
    assert "prometheus" in plugins.registry.names("metrics")


def test_invalid_hooks_are_reported() -> None:
    plugins = load(
        entry_points=False, extra=[("sig", WrongSignature()), ("unknown", UnknownHook())]
    )
    errors = {i.name: i.error for i in plugins.infos}
    assert errors["sig"] is not None and "extra" in errors["sig"]
    assert errors["unknown"] is not None and "kit_register_teleporters" in errors["unknown"]


def test_register_rejects_bad_arguments() -> None:
    class NotCallable:
        @hookimpl
        def kit_register_breakers(self, register: Any) -> None:
            register("x", 42)

    plugins = load(entry_points=False, extra=[("nc", NotCallable())])
    assert "not callable" in (plugins.infos[-1].error or "")


def test_commands_hook_adds_subcommands() -> None:
    import click

    class Commands:
        @hookimpl
        def kit_register_commands(self, cli: click.Group) -> None:
            cli.add_command(click.Command("ping", callback=lambda: click.echo("pong")))

    plugins = load(entry_points=False, extra=[("cmds", Commands())])
    group = click.Group("kit")
    plugins.add_commands(group)
    assert "ping" in group.commands
    assert plugins.infos[-1].commands == ["ping"]


def test_plugins_may_be_modules() -> None:
    module = SimpleNamespace(
        kit_register_metrics=hookimpl(lambda register: register("mod", factory))
    )
    plugins = load(entry_points=False, extra=[("mod", module)])
    assert "mod" in plugins.registry.names("metrics")


def test_builtin_breaker_and_limiter_open_by_name() -> None:
    from kitcore.circuitbreaker import ConsecutiveBreaker
    from kitcore.ratelimit import TokenBucket

    plugins = load(entry_points=False)
    assert isinstance(plugins.open("breakers", "consecutive", fail_max=2), ConsecutiveBreaker)
    assert isinstance(plugins.open("limiters", "token-bucket", rate=5.0), TokenBucket)


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"KIT_PLUGINS": "kit-http"}, "KIT_PLUGINS=kit-http"),
        ({"KIT_DISABLE_PLUGINS": "kit-etcd,kit-consul"}, "KIT_DISABLE_PLUGINS=kit-etcd,kit-consul"),
    ],
)
def test_an_excluded_plugin_is_named_with_the_setting_not_install_advice(
    env: dict[str, str], setting: str
) -> None:
    # kit-etcd is installed in the test environment: the fix is the setting, not pip.
    plugins = load(env=env)
    with pytest.raises(BackendNotFound) as info:
        plugins.open("discovery", "etcd://127.0.0.1:2379/services/x")
    message = str(info.value)
    assert f"kit-etcd is installed but excluded by {setting}" in message
    assert "install kit-etcd" not in message
    excluded = next(i for i in plugins.infos if i.name == "kit-etcd")
    assert excluded.disabled and excluded.disabled_by == setting.split("=")[0]
