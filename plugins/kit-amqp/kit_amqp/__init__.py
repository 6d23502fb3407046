"""kit-amqp: kit's AMQP transport (RabbitMQ): request-reply for kit services, and durable events.

Serve a typed service or an endpoint set with ``Subscriber`` (or ``serve``); call it
with ``kitcore.connect(Service, "amqp://guest:guest@host:5672/queue")`` or the explicit
``Publisher`` endpoint. Handle events at least once with ``EventConsumer`` (a durable
queue with manual acks, a retry queue and a dead letter exchange) and publish them
with ``EventPublisher`` (persistent, confirmed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kit_amqp.client import Publisher, ServiceClient
    from kit_amqp.connection import open_connection
    from kit_amqp.events import EventConsumer, EventPublisher, declare
    from kit_amqp.serve import serve
    from kit_amqp.server import Subscriber

__all__ = [
    "EventConsumer",
    "EventPublisher",
    "Publisher",
    "ServiceClient",
    "Subscriber",
    "declare",
    "open_connection",
    "serve",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "EventConsumer": "kit_amqp.events",
        "EventPublisher": "kit_amqp.events",
        "Publisher": "kit_amqp.client",
        "ServiceClient": "kit_amqp.client",
        "Subscriber": "kit_amqp.server",
        "declare": "kit_amqp.events",
        "open_connection": "kit_amqp.connection",
        "serve": "kit_amqp.serve",
    },
)
