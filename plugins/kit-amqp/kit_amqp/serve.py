"""Serving a service over AMQP until cancelled or signalled, then draining.

``serve(target, "amqp://guest:guest@host:5672/svc")`` connects, serves ``target`` (a
service instance or class, an endpoint mapping, or a tuple of them) from the queue
``svc`` and runs until cancelled or SIGINT/SIGTERM; then the subscriber drains (no new
requests, in-flight ones finish and are acked) and the connection closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kit_amqp.connection import open_connection
from kit_amqp.server import Subscriber
from kit_amqp.url import split
from kitcore.messaging.rpc import targets_of
from kitcore.serving import serve_until_stopped


async def serve(
    target: Any,
    url: str,
    *,
    prefetch: int = 64,
    drain_timeout: float = 30.0,
    started: Callable[[str, str], None] | None = None,
    handle_signals: bool = True,
    connect_options: dict[str, Any] | None = None,
    **options: Any,
) -> None:
    """Serve ``target`` at ``url`` until cancelled or signalled, then drain.

    ``started(broker, queue)`` is called once consuming; ``options`` are the
    server options (before, after, error_encoder, ...).
    """
    broker, queue = split(url)
    connection = await open_connection(broker, **(connect_options or {}))
    try:
        subscriber = Subscriber(
            connection, queue, *targets_of(target), prefetch=prefetch, **options
        )
        await serve_until_stopped(
            subscriber,
            drain_timeout=drain_timeout,
            handle_signals=handle_signals,
            started=None if started is None else lambda: started(broker, queue),
        )
    finally:
        if not connection.is_closed:
            await asyncio.shield(connection.close())
