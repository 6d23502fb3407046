"""Fixtures: a connection to the shared NATS server and a unique subject per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from kit_nats.testing import URL, connection
from nats.aio.client import Client


@pytest.fixture
async def nc() -> AsyncIterator[Client]:
    """A connection to the shared NATS server, closed after the test."""
    client = await connection()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def subject() -> str:
    """A subject no other test uses."""
    return f"kit_test_{uuid.uuid4().hex}"


@pytest.fixture
def url(subject: str) -> str:
    """The ``nats://`` URL of the test's subject."""
    return f"{URL}/{subject}"
