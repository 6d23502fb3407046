"""At-least-once event handling: decide, per delivery, to ack, retry later or dead-letter.

A broker's consumer (a JetStream durable consumer, a RabbitMQ queue with manual acks)
hands each delivery to ``EventHandler.process`` and carries out the ``Outcome``:

- ``ack``: the handler succeeded (or the id was handled before: ``skip``, acked too).
  Nothing is acked before the handler returned.
- ``retry``: the handler raised; deliver again after ``delay`` (capped exponential
  backoff with jitter), until ``max_attempts`` deliveries were made.
- ``dead``: publish the message to the dead letters with the error in its headers
  (``dead_letter_headers``), then ack the original. A message that does not decode (or is
  over ``max_payload``) goes there at once: retrying cannot mend it.

An event handler is a service method marked ``@method(event="subject")`` (its request
Struct is the event's JSON body), or any ``async def handle(event)`` with a decoder.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from kitcore.backoff import Backoff
from kitcore.codec import DECODE_ERRORS, decode_failure
from kitcore.errors import InvalidArgument, KitError
from kitcore.messaging.idempotency import IdempotencyStore
from kitcore.service import describe, endpoint

MIB = 1024 * 1024

_log = logging.getLogger("kitcore.messaging")

Action = Literal["ack", "skip", "retry", "dead"]
"""What becomes of a delivery."""


@dataclass
class Delivery:
    """One delivery of an event: its id, subject (or queue), body, headers and attempt number."""

    id: str
    subject: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    attempt: int = 1
    """1 for the first delivery, 2 for the first redelivery, ..."""


@dataclass(frozen=True)
class Outcome:
    """The decision on one delivery; ``error`` and ``stage`` are set for retries and dead ones."""

    action: Action
    delay: float = 0.0
    error: BaseException | None = None
    stage: str = ""
    """Where it failed: ``decode``, ``handler``, ``size``, ``busy`` or ``store``."""


_key: ContextVar[str | None] = ContextVar("kit_idempotency_key", default=None)


def idempotency_key() -> str | None:
    """The idempotency key of the delivery being handled (None without a store).

    A handler whose effect lives in the store's database commits the key in the same
    transaction (``RedisStore.commit_in``): then a crash cannot split effect and commit,
    and the effect happens exactly once.
    """
    return _key.get()


ACK = Outcome("ack")
SKIP = Outcome("skip")


class EventHandler:
    """Decodes and handles deliveries of one event kind, and decides what becomes of each.

    ``handle(event)`` does the work; ``decode(body)`` makes the event from JSON bytes.
    ``idempotency`` (optional) skips ids handled before; ``lease`` bounds how long a
    claim on an id holds when its consumer dies mid-handler.
    """

    def __init__(
        self,
        name: str,
        handle: Callable[[Any], Awaitable[Any]],
        decode: Callable[[bytes], Any],
        *,
        max_attempts: int = 5,
        backoff: Backoff | None = None,
        idempotency: IdempotencyStore | None = None,
        lease: float = 30.0,
        max_payload: int = MIB,
        event_type: Any = Any,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.name = name
        self.handle = handle
        self.decode = decode
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff(base=0.2, cap=30.0)
        self.idempotency = idempotency
        self.lease = lease
        self.max_payload = max_payload
        self.event_type = event_type

    @classmethod
    def for_type(
        cls, name: str, handle: Callable[[Any], Awaitable[Any]], event_type: Any, **options: Any
    ) -> EventHandler:
        """A handler of JSON events decoded (and validated) into ``event_type``."""
        decoder = msgspec.json.Decoder(event_type)
        return cls(name, handle, decoder.decode, event_type=event_type, **options)

    async def process(self, delivery: Delivery) -> Outcome:
        """Handle one delivery; never raises but for cancellation."""
        if len(delivery.body) > self.max_payload:
            error = InvalidArgument(
                f"event too large: {len(delivery.body)} bytes, limit {self.max_payload}"
            )
            return Outcome("dead", error=error, stage="size")
        try:
            event = self.decode(delivery.body)
        except DECODE_ERRORS as exc:
            return Outcome("dead", error=decode_failure(exc), stage="decode")
        except Exception as exc:  # an explicit decoder's own refusal: bad input all the same
            error = InvalidArgument(f"event did not decode: {type(exc).__name__}: {exc}")
            return Outcome("dead", error=error, stage="decode")
        store = self.idempotency
        if store is None:
            return await self._call(event, delivery)
        key = f"{self.name}:{delivery.id}"
        try:
            claim = await store.begin(key, self.lease)
        except Exception as exc:
            # The store is down: nothing was done; try again later without spending
            # one of the message's attempts (the store, not the message, is at fault).
            _log.warning("idempotency store failed for %s: %s: %s", key, type(exc).__name__, exc)
            return Outcome("retry", delay=self.backoff.delay(0), error=exc, stage="store")
        if claim == "done":
            return SKIP
        if claim == "busy":
            # Another consumer holds it (or a dead one's lease runs): look again later,
            # without spending one of the message's attempts on it.
            return Outcome("retry", delay=self.lease / 2, stage="busy")
        token = _key.set(key)
        try:
            outcome = await self._call(event, delivery)
        finally:
            _key.reset(token)
        try:
            if outcome.action == "ack":
                await store.commit(key)
            else:
                await store.abort(key)
        except Exception as exc:
            # Acked anyway: the effect happened once. Unrecorded, a redelivery of this id
            # would be handled again; an unfreed claim lapses with its lease.
            _log.warning("idempotency store failed for %s: %s: %s", key, type(exc).__name__, exc)
        return outcome

    async def _call(self, event: Any, delivery: Delivery) -> Outcome:
        try:
            await self.handle(event)
        except Exception as exc:
            if delivery.attempt >= self.max_attempts:
                return Outcome("dead", error=exc, stage="handler")
            return Outcome(
                "retry", delay=self.backoff.delay(delivery.attempt - 1), error=exc, stage="handler"
            )
        return ACK


def _header_text(text: str, limit: int = 1000) -> str:
    # NATS headers are lines: no CR/LF inside a value.
    return " ".join(text.split())[:limit]


def dead_letter_headers(delivery: Delivery, outcome: Outcome) -> dict[str, str]:
    """The headers recording why a delivery was dead-lettered, kept beside the original ones."""
    error = outcome.error
    code = error.code if isinstance(error, KitError) else "internal"
    message = error.message if isinstance(error, KitError) else str(error)
    headers = {k: v for k, v in delivery.headers.items() if not k.startswith("Kit-Dead-")}
    headers.update(
        {
            "Kit-Dead-Reason": outcome.stage or "handler",
            "Kit-Dead-Error-Code": code,
            "Kit-Dead-Error-Type": type(error).__qualname__ if error else "",
            "Kit-Dead-Error-Message": _header_text(message),
            "Kit-Dead-Attempts": str(delivery.attempt),
            "Kit-Dead-Subject": delivery.subject,
            "Kit-Dead-Message-Id": delivery.id,
        }
    )
    return headers


def event_subjects(service: object) -> dict[str, str]:
    """The service's event handlers: method name -> subject (``@method(event=...)``)."""
    return {
        name: str(m.options["event"])
        for name, m in describe(service).methods.items()
        if m.options.get("event")
    }


def service_handlers(service: object, **options: Any) -> dict[str, EventHandler]:
    """One EventHandler per ``@method(event=...)`` method of ``service``, by subject.

    The event's JSON body is the method's request Struct (its parameters by name).
    """
    spec = describe(service)
    handlers: dict[str, EventHandler] = {}
    for name, subject in event_subjects(service).items():
        m = spec.methods[name]
        handlers[subject] = EventHandler.for_type(
            f"{spec.name}.{name}", endpoint(service, name), m.request_type, **options
        )
    return handlers
