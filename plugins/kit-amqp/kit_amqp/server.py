"""The server: Go kit's ``amqptransport.Subscriber``, serving kit services over AMQP RPC.

``Subscriber(connection, "svc", service)`` consumes the durable queue ``svc`` (several
instances consuming one queue share the load), takes the method from the ``Kit-Method``
header and publishes the reply to the request's ``reply_to`` with its
``correlation_id``, through the shared ``kitcore.messaging.rpc.Dispatcher`` (options,
typed error replies, deadlines).

A request is acked once its reply is published, so a server killed mid-call leaves it
to another instance. Up to ``prefetch`` requests are served at once. A request with no
``reply_to`` cannot be answered: it is not executed, the error handler sees why, and it
is acked away. ``stop()`` drains: the consumer is cancelled (no new deliveries), the
calls in flight finish and are acked, the channel closes (anything prefetched but not
started goes back to the queue).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from kit_amqp.connection import close_channel, stop_consuming, text_headers
from kit_amqp.errors import FAILURES
from kitcore.errors import InvalidArgument
from kitcore.messaging.rpc import METHOD_HEADER, Dispatcher, Message, Reply

_log = logging.getLogger("kit_amqp")


class Subscriber:
    """Serves request messages from one queue over one channel of ``connection``.

    ``targets`` are service instances and endpoint mappings (or pass ``dispatcher=``);
    ``options`` are kit's server options (before, after, error_encoder, error_handler,
    finalizer, max_payload, timeout).
    """

    def __init__(
        self,
        connection: AbstractConnection,
        queue: str,
        *targets: object,
        prefetch: int = 64,
        dispatcher: Dispatcher | None = None,
        **options: Any,
    ) -> None:
        if not queue:
            raise ValueError("a queue name is required")
        self.connection = connection
        self.queue_name = queue
        self.prefetch = prefetch
        self.dispatcher = dispatcher or Dispatcher(*targets, **options)
        self._channel: AbstractChannel | None = None
        self._queue: Any = None
        self._tag: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Declare the queue and start consuming; requests are served from now on."""
        # Replies need no confirms: a lost one is the caller's timeout, as on any RPC.
        self._channel = await self.connection.channel(publisher_confirms=False)
        await self._channel.set_qos(prefetch_count=self.prefetch)
        self._queue = await self._channel.declare_queue(self.queue_name, durable=True)
        self._tag = await self._queue.consume(self._on_message)

    async def _on_message(self, msg: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(msg)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _serve(self, msg: AbstractIncomingMessage) -> None:
        headers = text_headers(msg.headers)
        method = headers.get(METHOD_HEADER) or (msg.type or "")
        message = Message(method, headers, msg.body, msg.reply_to or "", msg)
        if not msg.reply_to:
            self.dispatcher.unanswerable(
                message, InvalidArgument("request has no reply_to: not served")
            )
            await self._ack(msg)
            return
        reply = await self.dispatcher.handle(message)
        await self._send(msg, reply)
        await self._ack(msg)

    async def _send(self, msg: AbstractIncomingMessage, reply: Reply) -> None:
        channel = self._channel
        if channel is None or msg.reply_to is None:
            return
        try:
            await channel.default_exchange.publish(
                aio_pika.Message(
                    reply.body,
                    headers=dict(reply.headers),
                    correlation_id=msg.correlation_id,
                    content_type="application/json",
                ),
                routing_key=msg.reply_to,
            )
        except FAILURES as exc:
            _log.warning("could not reply to %s: %s", msg.reply_to, exc)

    @staticmethod
    async def _ack(msg: AbstractIncomingMessage) -> None:
        try:
            await msg.ack()
        except FAILURES as exc:
            # The channel went away (broker restart): the broker redelivers it.
            _log.warning("could not ack request: %s", exc)

    async def stop(self, timeout: float = 30.0) -> None:
        """Drain: stop deliveries, finish and ack the calls in flight, close the channel."""
        queue, tag, self._queue, self._tag = self._queue, self._tag, None, None
        await stop_consuming(queue, tag, self._tasks, timeout)
        self.dispatcher.deadlines.close()
        channel, self._channel = self._channel, None
        await close_channel(channel)

    async def __aenter__(self) -> Subscriber:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
