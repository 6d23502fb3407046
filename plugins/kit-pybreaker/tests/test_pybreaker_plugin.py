"""kit-pybreaker is found through its entry point and builds breakers by name."""

from __future__ import annotations

from kit_pybreaker import PyBreaker

from kitcore.plugins import load


def test_registers_the_pybreaker_breaker_through_its_entry_point() -> None:
    plugins = load(env={"KIT_PLUGINS": "kit-pybreaker"})
    info = next(i for i in plugins.infos if i.name == "kit-pybreaker")
    assert info.error is None
    assert info.registers == {"breakers": ["pybreaker"]}
    breaker = plugins.open("breakers", "pybreaker", name="users", fail_max=2, reset_timeout=5)
    assert isinstance(breaker, PyBreaker)
    assert (breaker.name, breaker.circuit.fail_max, breaker.reset_timeout) == ("users", 2, 5.0)
    assert plugins.backend("breakers", "pybreaker").factory(fail_max=1).state == "closed"
