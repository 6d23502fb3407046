"""Opening a robust AMQP connection: it reconnects and restores queues and consumers.

aio-pika's robust connection re-declares what was declared on it and re-starts its
consumers after a broker restart, which is what a server or consumer must survive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractQueue, AbstractRobustConnection

from kit_amqp.errors import FAILURES

_log = logging.getLogger("kit_amqp")


async def open_connection(url: str, **options: Any) -> AbstractRobustConnection:
    """Connect to ``url`` (``amqp://user:pass@host:port/``), reconnecting for ever."""
    settings: dict[str, Any] = {"reconnect_interval": 0.5, "timeout": 5}
    settings.update(options)
    connection: AbstractRobustConnection = await aio_pika.connect_robust(url, **settings)
    return connection


def text_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """AMQP headers as text (long strings may arrive as bytes)."""
    if not headers:
        return {}
    return {
        k: v.decode("utf-8", "replace") if isinstance(v, bytes | bytearray) else str(v)
        for k, v in headers.items()
    }


async def stop_consuming(
    queue: AbstractQueue | None,
    tag: str | None,
    tasks: set[asyncio.Task[Any]],
    timeout: float,
) -> None:
    """Cancel the consumer ``tag``, then give the messages in hand ``timeout`` s to finish.

    The Subscriber and the EventConsumer both stop so: no new deliveries, and those still
    running after ``timeout`` are cancelled (unacked, so the broker delivers them again).
    """
    if queue is not None and tag is not None:
        try:
            await queue.cancel(tag)
        except FAILURES as exc:
            _log.warning("could not cancel consumer on %s: %s", queue.name, exc)
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def close_channel(channel: AbstractChannel | None) -> None:
    """Close ``channel`` if it is open; a broker already gone is logged, not raised."""
    if channel is not None and not channel.is_closed:
        try:
            await channel.close()
        except FAILURES as exc:
            _log.warning("could not close channel: %s", exc)
