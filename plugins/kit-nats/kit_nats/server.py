"""The server: Go kit's ``natstransport.Subscriber``, serving kit services over request-reply.

``Subscriber(nc, "svc", service)`` subscribes to ``svc.*`` in the queue group ``svc``
(instances share the load; each request goes to one), takes the method from the
subject's last token and answers on the request's reply subject, through the shared
``kitcore.messaging.rpc.Dispatcher`` (options, typed error replies, deadlines).

Requests are served concurrently, up to ``concurrency`` at once, by a fixed set of
worker tasks that take them in turn (``kitcore.messaging.workers``): a handler that
waits does not hold up the others, and a request costs no task of its own. A flood
backs up in the client library's pending buffer rather than in memory. A request with
no reply subject cannot be answered: it is not executed, and the error handler sees why.

``stop()`` drains: the subscription is drained (no new messages; those already
delivered are still served), the calls in flight finish, then their replies are
flushed.
"""

from __future__ import annotations

import logging
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

from kit_nats.errors import FAILURES
from kitcore.errors import InvalidArgument
from kitcore.messaging.rpc import Dispatcher, Message, Reply, default_error_encoder
from kitcore.messaging.workers import Workers

_log = logging.getLogger("kit_nats")


class Subscriber:
    """Serves request messages on ``subject.<method>`` from one NATS connection.

    ``targets`` are service instances and endpoint mappings (or pass ``dispatcher=``);
    ``options`` are kit's server options (before, after, error_encoder, error_handler,
    finalizer, max_payload, timeout). ``queue`` is the queue group (default: the
    subject; None for none, every instance then answers).
    """

    def __init__(
        self,
        nc: Client,
        subject: str,
        *targets: object,
        queue: str | None = "",
        concurrency: int = 64,
        dispatcher: Dispatcher | None = None,
        **options: Any,
    ) -> None:
        if not subject:
            raise ValueError("a subject is required: the service's subjects are SUBJECT.<method>")
        self.nc = nc
        self.subject = subject
        self.queue = subject if queue == "" else queue
        self.dispatcher = dispatcher or Dispatcher(*targets, **options)
        self._prefix = len(subject) + 1
        self._workers: Workers[Msg] = Workers(self._serve, concurrency)
        self._sub: Any = None

    async def start(self) -> None:
        """Subscribe; requests are served from now on."""
        self._sub = await self.nc.subscribe(
            f"{self.subject}.*", queue=self.queue or "", cb=self._workers.put
        )
        await self.nc.flush()

    async def _serve(self, msg: Msg) -> None:
        message = Message(msg.subject[self._prefix :], msg.headers or {}, msg.data, msg.reply, msg)
        if not msg.reply:
            self.dispatcher.unanswerable(
                message, InvalidArgument("request has no reply subject: not served")
            )
            return
        reply = await self.dispatcher.handle(message)
        await self._send(message, reply)

    async def _send(self, message: Message, reply: Reply) -> None:
        try:
            await self.nc.publish(message.reply, reply.body, headers=reply.headers or None)
        except FAILURES as exc:
            if reply.failed:
                _log.warning("could not reply to %s: %s", message.method, exc)
                return
            # The result itself could not go (over max_payload): say so instead.
            error = InvalidArgument(f"reply not sent: {type(exc).__name__}: {exc}")
            self.dispatcher.unanswerable(message, error)
            fallback = default_error_encoder(message, error)
            try:
                await self.nc.publish(message.reply, fallback.body, headers=fallback.headers)
            except FAILURES:
                _log.warning("could not reply to %s", message.method)

    async def stop(self, timeout: float = 30.0) -> None:
        """Drain: take no new requests, finish those in flight, flush their replies."""
        sub, self._sub = self._sub, None
        if sub is not None and not self.nc.is_closed:
            try:
                await sub.drain()
            except FAILURES as exc:
                _log.warning("could not drain %s.*: %s", self.subject, exc)
        await self._workers.drain(timeout)
        await self._workers.close()  # what did not finish in time is cancelled
        self.dispatcher.deadlines.close()
        if not self.nc.is_closed:
            try:
                await self.nc.flush()
            except FAILURES as exc:
                _log.warning("could not flush replies: %s", exc)

    async def __aenter__(self) -> Subscriber:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
