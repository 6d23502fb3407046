"""Fixtures for kit-etcd's tests: an etcd with TLS, prefixes, leak checks.

``shared_etcd`` and ``own_etcd`` (real etcd servers) come from kitcore's pytest plugin.

The helpers live in testlib.py, loaded here as the module ``kit_etcd_testlib``: under
``--import-mode=importlib`` a test module cannot import a sibling module by itself.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType

import pytest


def _load_testlib() -> ModuleType:
    name = "kit_etcd_testlib"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("testlib.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


testlib = _load_testlib()


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Every task a test started has ended shortly after it."""
    yield
    current = asyncio.current_task()
    # A cancelled gRPC call finishes its own bookkeeping task a few milliseconds after
    # the channel closes; a leaked watch or keepalive task would never end.
    deadline = time.monotonic() + 2.0
    while True:
        left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not left or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.005)
    assert left == []


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses."""
    return f"/kit-tests/{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def tls_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """An etcd speaking TLS only, with client-certificate authentication."""
    tmp_path = tmp_path_factory.mktemp("etcd-tls")
    files = testlib.make_tls_files(tmp_path)
    workdir = tmp_path / "etcd"
    workdir.mkdir()
    server = testlib.TlsEtcd(workdir, files)
    server.process.start()
    try:
        yield server
    finally:
        server.process.stop()
