"""At-least-once events over RabbitMQ: durable queues, manual acks, publisher confirms.

Topology, declared by ``EventConsumer.start`` (all durable):

- ``<queue>``: the events; its ``x-dead-letter-exchange`` is ``<queue>.dlx``, so what the
  broker itself rejects (expired, over a length limit) is not lost either;
- ``<queue>.retry``: where a failed event waits out its backoff (per-message
  ``expiration``), then the broker dead-letters it back to ``<queue>``;
- ``<queue>.dlx`` (fanout exchange) -> ``<queue>.dead``: the dead letters.

Each delivery goes to a ``kitcore.messaging.events.EventHandler``, then:

- success: ``ack`` (only now: a consumer killed before this gets the message again);
- the handler raised: a copy goes to ``<queue>.retry`` with ``Kit-Attempt`` counted up,
  and only once the broker confirmed it is the original acked;
- the last attempt failed, or the message does not decode: a copy goes to the dead
  letter exchange with the error in ``Kit-Dead-*`` headers, confirmed, then acked.

Publishing waits for the broker's confirm of every message, and messages are
persistent. The robust connection restores channel, queues and consumer after a
broker restart; an ack that fails because its channel died is redelivered by the
broker (a duplicate, never a loss).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import aio_pika
import msgspec
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from aio_pika.exceptions import DeliveryError

from kit_amqp.connection import close_channel, stop_consuming, text_headers
from kit_amqp.errors import FAILURES, from_amqp
from kitcore.errors import Unavailable
from kitcore.messaging.events import Delivery, EventHandler, Outcome, dead_letter_headers

ATTEMPT_HEADER = "Kit-Attempt"
"""The delivery attempt a retried copy is on (the first delivery has none)."""

_log = logging.getLogger("kit_amqp")


async def declare(channel: AbstractChannel, queue: str) -> None:
    """Declare ``queue`` with its retry queue and dead letters (idempotent)."""
    dlx = await channel.declare_exchange(f"{queue}.dlx", aio_pika.ExchangeType.FANOUT, durable=True)
    dead = await channel.declare_queue(f"{queue}.dead", durable=True)
    await dead.bind(dlx)
    await channel.declare_queue(
        queue, durable=True, arguments={"x-dead-letter-exchange": f"{queue}.dlx"}
    )
    await channel.declare_queue(
        f"{queue}.retry",
        durable=True,
        arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue},
    )


async def delete(channel: AbstractChannel, queue: str) -> None:
    """Delete what ``declare`` made (for tests and tear-down)."""
    for name in (queue, f"{queue}.retry", f"{queue}.dead"):
        await channel.queue_delete(name)
    await channel.exchange_delete(f"{queue}.dlx")


class EventPublisher:
    """Publishes persistent events to a queue and waits for the broker's confirm of each.

    The queue's topology is declared on first use (``declare=False`` when it is someone
    else's), so nothing published before the first consumer started is lost; an event
    no queue takes comes back and raises ``Unavailable``.
    """

    def __init__(self, connection: AbstractConnection, queue: str, *, declare: bool = True) -> None:
        self.connection = connection
        self.queue = queue
        self._declare = declare
        self._channel: AbstractChannel | None = None
        self._encode = msgspec.json.Encoder().encode

    async def publish(
        self, event: Any, *, id: str | None = None, headers: Mapping[str, str] | None = None
    ) -> str:
        """Publish ``event`` (a Struct, dict, ... or bytes); returns its message id."""
        if self._channel is None or self._channel.is_closed:
            channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
            if self._declare:
                await declare(channel, self.queue)
            self._channel = channel
        message_id = id or uuid.uuid4().hex
        body = event if isinstance(event, bytes) else self._encode(event)
        try:
            await self._channel.default_exchange.publish(
                aio_pika.Message(
                    body,
                    headers=dict(headers or {}),
                    message_id=message_id,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=self.queue,
                mandatory=True,
            )
        except DeliveryError as exc:
            raise Unavailable(f"no queue {self.queue!r} took the event") from exc
        except FAILURES as exc:
            raise from_amqp(exc, f"publish to {self.queue}") from exc
        return message_id

    async def close(self) -> None:
        """Close the publishing channel."""
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed:
            await channel.close()


class EventConsumer:
    """Handles the events of ``queue`` with manual acks, up to ``prefetch`` at once."""

    def __init__(
        self,
        connection: AbstractConnection,
        queue: str,
        handler: EventHandler,
        *,
        prefetch: int = 100,
    ) -> None:
        self.connection = connection
        self.queue_name = queue
        self.handler = handler
        self.prefetch = prefetch
        self._channel: AbstractChannel | None = None
        self._queue: Any = None
        self._tag: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Declare the topology and start consuming."""
        self._channel = await self.connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self.prefetch)
        await declare(self._channel, self.queue_name)
        self._queue = await self._channel.get_queue(self.queue_name)
        self._tag = await self._queue.consume(self._on_message)

    async def _on_message(self, msg: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            delivery = self.delivery(msg)
            outcome = await self.handler.process(delivery)
            await self._settle(msg, delivery, outcome)
        except FAILURES as exc:
            # Not acked: the broker redelivers it once the channel is gone.
            _log.warning("could not settle a message of %s: %s", self.queue_name, exc)
        finally:
            if task is not None:
                self._tasks.discard(task)

    def delivery(self, msg: AbstractIncomingMessage) -> Delivery:
        """The delivery an AMQP message stands for (its id, attempt number, ...)."""
        headers = text_headers(msg.headers)
        try:
            attempt = max(1, int(headers.get(ATTEMPT_HEADER, "1")))
        except ValueError:
            attempt = 1
        message_id = msg.message_id or f"{self.queue_name}:{msg.delivery_tag}"
        return Delivery(message_id, self.queue_name, msg.body, headers, attempt)

    async def _settle(
        self, msg: AbstractIncomingMessage, delivery: Delivery, outcome: Outcome
    ) -> None:
        if outcome.action == "retry":
            headers = dict(delivery.headers)
            if outcome.stage not in ("busy", "store"):  # no fault of the message's
                headers[ATTEMPT_HEADER] = str(delivery.attempt + 1)
            await self._republish(msg, headers, "", f"{self.queue_name}.retry", outcome.delay)
        elif outcome.action == "dead":
            headers = dead_letter_headers(delivery, outcome)
            await self._republish(msg, headers, f"{self.queue_name}.dlx", "", None)
            _log.warning(
                "dead-lettered %s after %d attempts: %s",
                delivery.id,
                delivery.attempt,
                headers["Kit-Dead-Error-Message"],
            )
        await msg.ack()

    async def _republish(
        self,
        msg: AbstractIncomingMessage,
        headers: dict[str, str],
        exchange: str,
        routing_key: str,
        delay: float | None,
    ) -> None:
        channel = self._channel
        if channel is None:
            raise RuntimeError("consumer not started")
        target = channel.default_exchange if not exchange else await channel.get_exchange(exchange)
        await target.publish(
            aio_pika.Message(
                msg.body,
                headers=dict(headers),
                message_id=msg.message_id,
                content_type=msg.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                expiration=delay if delay else None,
            ),
            routing_key=routing_key,
        )

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop deliveries, finish and settle the messages in hand, close the channel."""
        queue, tag, self._queue, self._tag = self._queue, self._tag, None, None
        await stop_consuming(queue, tag, self._tasks, timeout)
        channel, self._channel = self._channel, None
        await close_channel(channel)

    async def __aenter__(self) -> EventConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
