"""The kit plugin entry point: registers the ``pybreaker`` circuit breaker.

pybreaker is imported only when a breaker is built, so listing plugins stays cheap.
"""

from __future__ import annotations

from typing import Any

from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register

NAME = "pybreaker"
"""The backend name this plugin registers."""


def make_breaker(url: str | None = None, /, **options: Any) -> Any:
    """Build a :class:`~kit_pybreaker.PyBreaker` from ``options`` (``url`` is the name used)."""
    from kit_pybreaker.breaker import PyBreaker

    return PyBreaker(**options)


@hookimpl
def kit_register_breakers(register: Register) -> None:
    """Register the ``pybreaker`` breaker."""
    register(NAME, make_breaker, description="pybreaker, memory or Redis state")
