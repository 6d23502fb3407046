"""Opening a robust AMQP connection: it reconnects and restores queues and consumers.

aio-pika's robust connection re-declares what was declared on it and re-starts its
consumers after a broker restart, which is what a server or consumer must survive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection


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
