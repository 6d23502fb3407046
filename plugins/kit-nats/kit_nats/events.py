"""At-least-once events over JetStream: a durable pull consumer with explicit acks.

``EventConsumer`` fetches batches from a durable consumer (explicit ack, ``ack_wait``,
``max_deliver``) and hands each message to a ``kitcore.messaging.events.EventHandler``,
then carries out its decision:

- success: ``ack`` (only now: a consumer killed before this gets the message again
  after ``ack_wait``);
- the handler raised: ``nak(delay)`` with the handler's backoff; the attempt number is
  JetStream's own delivery count, so it survives restarts;
- the last attempt failed, or the message does not decode: publish it to the dead
  letter subject (a stream of its own) with the error in ``Kit-Dead-*`` headers, wait
  for JetStream's ack of that, then ``term`` the original (JetStream emits its
  MSG_TERMINATED advisory).

The server's ``max_deliver`` is a backstop above the handler's ``max_attempts``: a
message that kills its consumer on every delivery stops being delivered (JetStream's
MAX_DELIVERIES advisory) instead of looping for ever.

The fetch loop outlives broker restarts: the connection reconnects by itself and a
failed fetch is retried with backoff. Messages of a batch are handled concurrently
(``concurrency``); ``stop()`` finishes those in hand and acks them before returning.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from kit_nats.errors import FAILURES, from_nats
from kitcore.backoff import Backoff
from kitcore.messaging.events import Delivery, EventHandler, Outcome, dead_letter_headers

MSG_ID_HEADER = "Nats-Msg-Id"
"""JetStream's message id header: the idempotency key, and JetStream's own dedup key."""

_log = logging.getLogger("kit_nats")


async def ensure_stream(js: JetStreamContext, name: str, subjects: list[str]) -> None:
    """Create the file-backed stream ``name`` over ``subjects`` unless it exists."""
    try:
        await js.stream_info(name)
    except nats.js.errors.NotFoundError:
        await js.add_stream(StreamConfig(name=name, subjects=subjects, storage=StorageType.FILE))


class EventPublisher:
    """Publishes events to JetStream and waits for the stream's ack of each (it is stored)."""

    def __init__(self, js: JetStreamContext, subject: str) -> None:
        self.js = js
        self.subject = subject
        self._encode = msgspec.json.Encoder().encode

    async def publish(
        self, event: Any, *, id: str | None = None, headers: Mapping[str, str] | None = None
    ) -> str:
        """Publish ``event`` (a Struct, dict, ... or bytes); returns its message id."""
        message_id = id or uuid.uuid4().hex
        body = event if isinstance(event, bytes) else self._encode(event)
        try:
            await self.js.publish(
                self.subject, body, headers={**(headers or {}), MSG_ID_HEADER: message_id}
            )
        except FAILURES as exc:
            raise from_nats(exc, f"publish to {self.subject}") from exc
        return message_id


class EventConsumer:
    """Handles the events of ``subject`` in ``stream`` through a durable consumer.

    Dead letters go to ``dead_subject`` (default ``dead.<subject>``) in the stream
    ``dead_stream`` (default ``<stream>_DEAD``), created when missing.
    """

    def __init__(
        self,
        nc: Client,
        stream: str,
        subject: str,
        handler: EventHandler,
        *,
        durable: str | None = None,
        dead_subject: str | None = None,
        dead_stream: str | None = None,
        batch: int = 100,
        concurrency: int = 100,
        ack_wait: float = 30.0,
        max_deliver: int | None = None,
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.stream = stream
        self.subject = subject
        self.handler = handler
        self.durable = durable or handler.name.replace(".", "_")
        self.dead_subject = dead_subject or f"dead.{subject}"
        self.dead_stream = dead_stream or f"{stream}_DEAD"
        self.batch = batch
        self.ack_wait = ack_wait
        self.max_deliver = max_deliver or handler.max_attempts + 10
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._backoff = Backoff(base=0.1, cap=2.0)

    async def start(self) -> None:
        """Create the streams and the durable consumer if missing, then start consuming."""
        await ensure_stream(self.js, self.stream, [self.subject])
        await ensure_stream(self.js, self.dead_stream, [self.dead_subject])
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver,
            max_ack_pending=max(1000, self.batch * 4),
        )
        sub = await self.js.pull_subscribe(
            self.subject, durable=self.durable, stream=self.stream, config=config
        )
        self._loop = asyncio.create_task(self._consume(sub))

    async def _consume(self, sub: Any) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                msgs = await sub.fetch(self.batch, timeout=1.0)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                # Nothing within the fetch's expiry (nats-py raises either, depending on
                # where its wait ran out): not a failure.
                continue
            except FAILURES as exc:
                # Disconnected (the broker restarting): the client reconnects by itself.
                _log.warning("fetch from %s failed: %s: %s", self.durable, type(exc).__name__, exc)
                await asyncio.sleep(self._backoff.delay(min(failures, 10)))
                failures += 1
                continue
            failures = 0
            for msg in msgs:
                await self._slots.acquire()
                task = asyncio.create_task(self._process(msg))
                self._tasks.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    def delivery(self, msg: Msg) -> Delivery:
        """The delivery a JetStream message stands for (its id, attempt number, ...)."""
        headers = msg.headers or {}
        meta = msg.metadata
        message_id = headers.get(MSG_ID_HEADER) or f"{meta.stream}:{meta.sequence.stream}"
        return Delivery(message_id, msg.subject, msg.data, headers, meta.num_delivered)

    async def _process(self, msg: Msg) -> None:
        delivery = self.delivery(msg)
        outcome = await self.handler.process(delivery)
        try:
            await self._settle(msg, delivery, outcome)
        except FAILURES as exc:
            # Not settled: JetStream redelivers it after ack_wait.
            _log.warning("could not settle %s: %s", delivery.id, exc)

    async def _settle(self, msg: Msg, delivery: Delivery, outcome: Outcome) -> None:
        if outcome.action in ("ack", "skip"):
            await msg.ack()
        elif outcome.action == "retry":
            await msg.nak(delay=outcome.delay)
        else:
            headers = dead_letter_headers(delivery, outcome)
            # A dead letter keeps its own id: JetStream's dedup must not drop it as a copy.
            headers[MSG_ID_HEADER] = f"dead:{delivery.id}"
            await self.js.publish(self.dead_subject, msg.data, headers=headers)
            _log.warning(
                "dead-lettered %s after %d attempts: %s",
                delivery.id,
                delivery.attempt,
                headers["Kit-Dead-Error-Message"],
            )
            await msg.term()

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop fetching, finish the messages in hand and settle them."""
        self._stopping.set()
        if self._loop is not None:
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if not self.nc.is_closed:
            try:
                await self.nc.flush()
            except FAILURES as exc:
                _log.warning("could not flush acks: %s", exc)

    async def __aenter__(self) -> EventConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
