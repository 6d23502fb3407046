"""Serving a service over NATS until cancelled or signalled, then draining.

``serve(target, "nats://host:4222/svc")`` connects, serves ``target`` (a service
instance or class, an endpoint mapping, or a tuple of them) on ``svc.<method>`` and
runs until cancelled or SIGINT/SIGTERM; then the subscriber drains (no new requests,
in-flight ones finish) and the connection is drained and closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kit_nats.connection import open_connection
from kit_nats.server import Subscriber
from kit_nats.url import split
from kitcore.messaging.rpc import targets_of
from kitcore.serving import serve_until_stopped


async def serve(
    target: Any,
    url: str,
    *,
    queue: str | None = "",
    concurrency: int = 64,
    drain_timeout: float = 30.0,
    started: Callable[[str, str], None] | None = None,
    handle_signals: bool = True,
    connect_options: dict[str, Any] | None = None,
    **options: Any,
) -> None:
    """Serve ``target`` at ``url`` until cancelled or signalled, then drain.

    ``started(server, subject)`` is called once subscribed; ``options`` are the
    server options (before, after, error_encoder, ...).
    """
    server, subject = split(url)
    nc = await open_connection(server, **(connect_options or {}))
    try:
        subscriber = Subscriber(
            nc, subject, *targets_of(target), queue=queue, concurrency=concurrency, **options
        )
        await serve_until_stopped(
            subscriber,
            drain_timeout=drain_timeout,
            handle_signals=handle_signals,
            started=None if started is None else lambda: started(server, subject),
        )
    finally:
        if not nc.is_closed:
            await asyncio.shield(nc.close())
