"""Fixtures for kit-zookeeper's tests: node paths and leak checks.

``shared_zk`` and ``own_zk`` (real ZooKeeper servers) come from kitcore's pytest plugin.

The helpers live in testlib.py, loaded here as the module ``kit_zookeeper_testlib``:
under ``--import-mode=importlib`` a test module cannot import a sibling module by itself.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest


def _load_testlib() -> ModuleType:
    name = "kit_zookeeper_testlib"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("testlib.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


testlib = _load_testlib()


@pytest.fixture(autouse=True)
async def no_leaks() -> AsyncIterator[None]:
    """Every task and every thread a test started has ended soon after it."""
    baseline = set(threading.enumerate())
    yield
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current and not t.done()] == []
    assert await testlib.threads_back_to(baseline) == []


@pytest.fixture
def path() -> str:
    """A node path no other test uses."""
    return f"/kit-tests/{uuid.uuid4().hex[:12]}"
