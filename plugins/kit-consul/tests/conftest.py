"""Fixtures for kit-consul's tests: a running fake Consul agent (kit_consul.fake)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from kit_consul.fake import FakeConsul


@pytest.fixture
def fake_consul_class() -> Any:
    """The FakeConsul class, for tests that need options (``token=``...) or two agents."""
    return FakeConsul


@pytest.fixture
async def fake_consul() -> AsyncIterator[FakeConsul]:
    """A fake Consul agent listening on 127.0.0.1, without ACLs; closed after the test."""
    async with FakeConsul() as fake:
        yield fake
