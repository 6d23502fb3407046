"""kit-nats: kit's NATS transport: request-reply for kit services, and JetStream events.

Serve a typed service or an endpoint set with ``Subscriber`` (or ``serve``); call it
with ``kitcore.connect(Service, "nats://host:4222/subject")`` or the explicit
``Publisher`` endpoint. Handle events at least once with ``EventConsumer`` (a durable
JetStream pull consumer with explicit acks, retries and dead letters) and publish
them with ``EventPublisher``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kit_nats.client import Publisher, ServiceClient
    from kit_nats.connection import open_connection
    from kit_nats.events import EventConsumer, EventPublisher, ensure_stream
    from kit_nats.serve import serve
    from kit_nats.server import Subscriber

__all__ = [
    "EventConsumer",
    "EventPublisher",
    "Publisher",
    "ServiceClient",
    "Subscriber",
    "ensure_stream",
    "open_connection",
    "serve",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "EventConsumer": "kit_nats.events",
        "EventPublisher": "kit_nats.events",
        "Publisher": "kit_nats.client",
        "ServiceClient": "kit_nats.client",
        "Subscriber": "kit_nats.server",
        "ensure_stream": "kit_nats.events",
        "open_connection": "kit_nats.connection",
        "serve": "kit_nats.serve",
    },
)
