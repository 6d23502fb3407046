"""Fixtures for kit-consul's tests: a running fake Consul agent.

Tests run with ``--import-mode=importlib``, where a test module cannot import a sibling
module by name, so the fake is loaded here from its file and handed out as fixtures.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest


def _load_fake() -> Any:
    name = "kit_consul_tests_fake_consul"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("fake_consul.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while being built
        spec.loader.exec_module(module)
    return sys.modules[name]


fake_module = _load_fake()


@pytest.fixture
def fake_consul_class() -> Any:
    """The FakeConsul class, for tests that need options (``token=``...) or two agents."""
    return fake_module.FakeConsul


@pytest.fixture
async def fake_consul() -> AsyncIterator[Any]:
    """A fake Consul agent listening on 127.0.0.1, without ACLs; closed after the test."""
    async with fake_module.FakeConsul() as fake:
        yield fake
