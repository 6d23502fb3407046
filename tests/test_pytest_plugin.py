"""kitcore's pytest plugin: loaded once through ``pytest11``, its fixtures and suite classes.

A third party's run is reproduced with pytester in a subprocess, from a directory with
no conftest and no configuration: what the entry point alone gives.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

import kitcore.plugins
import kitcore.testing.pytest_plugin as plugin_module
from kitcore import hookimpl

pytest_plugins = ["pytester"]


def test_the_plugin_is_registered_once_through_its_entry_point(
    pytestconfig: pytest.Config,
) -> None:
    manager = pytestconfig.pluginmanager
    assert manager.get_plugin("kitcore") is plugin_module
    assert [p for p in manager.get_plugins() if p is plugin_module] == [plugin_module]


class Hooks:
    @hookimpl
    def kit_register_metrics(self, register: Any) -> None:
        register("mine", lambda url, **options: ("mine", url))


def test_kit_plugins_holds_only_the_named_plugins(kit_plugins: Any) -> None:
    manager = kit_plugins("kit-etcd", ("mine", Hooks()))
    assert kitcore.plugins.plugins() is manager
    loaded = [i.name for i in manager.infos if not i.disabled]
    assert loaded == ["kitcore", "mine", "kit-etcd"]
    assert manager.open("metrics", "mine") == ("mine", "mine")
    assert "http" not in manager.registry.names("transports")
    with pytest.raises(LookupError, match="kit-nonesuch"):
        kit_plugins("kit-nonesuch")


def test_redis_url_is_a_redis_that_answers(redis_url: str) -> None:
    assert plugin_module._redis_answers(redis_url) is None
    assert plugin_module._redis_answers("redis://127.0.0.1:1/0") is not None


THIRD_PARTY_TESTS = """
    import pytest

    import kitcore.plugins
    from kitcore.testing import MemoryBackend
    from kitcore.testing.suites import InstancerSuite, RegistrarSuite


    class TestMemory(InstancerSuite, RegistrarSuite):
        @pytest.fixture
        def backend(self):
            return MemoryBackend()

        @pytest.fixture
        def make_instancer(self, backend):
            return backend.instancer

        @pytest.fixture
        def instancer_driver(self, backend):
            return backend

        @pytest.fixture
        def make_registrar(self, backend):
            return backend.registrar

        @pytest.fixture
        def registered_instances(self, backend):
            return backend.snapshot


    class Forgetful(MemoryBackend):
        async def remove(self, instance):
            pass  # the instance stays: the suite must see it


    class TestForgetful(InstancerSuite):
        instancer_timeout = 0.5

        @pytest.fixture
        def instancer_driver(self):
            return Forgetful()

        @pytest.fixture
        def make_instancer(self, instancer_driver):
            return instancer_driver.instancer


    BEFORE = []


    def test_kit_plugins_sets_the_process_manager(kit_plugins):
        BEFORE.append(kitcore.plugins._plugins)
        manager = kit_plugins()
        assert kitcore.plugins.plugins() is manager


    def test_and_puts_the_previous_one_back():
        assert kitcore.plugins._plugins is BEFORE[0]
"""


def test_a_third_party_gets_the_fixtures_and_suites_from_the_entry_point(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_third_party=textwrap.dedent(THIRD_PARTY_TESTS))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*TestForgetful::test_instancer_contract FAILED*"])
