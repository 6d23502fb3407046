"""Fixtures: a connection to the shared RabbitMQ server and a unique queue per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aio_pika.abc import AbstractRobustConnection
from kit_amqp.events import delete
from kit_amqp.testing import URL, connection


@pytest.fixture
async def conn() -> AsyncIterator[AbstractRobustConnection]:
    """A connection to the shared RabbitMQ server, closed after the test."""
    client = await connection()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def queue(conn: AbstractRobustConnection) -> AsyncIterator[str]:
    """A queue no other test uses; it (and its retry and dead letter parts) deleted after."""
    name = f"kit_test_{uuid.uuid4().hex}"
    yield name
    channel = await conn.channel()
    await delete(channel, name)
    await channel.close()


@pytest.fixture
def url(queue: str) -> str:
    """The ``amqp://`` URL of the test's queue."""
    return f"{URL}{queue}"
