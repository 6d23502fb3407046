"""Server-side deadlines of kit's message transports (``kitcore.messaging.deadlines``).

Over the real brokers (NATS on 4222, RabbitMQ on 5672; each test on its own subject
or queue): a request whose deadline passed before it was served is answered
DeadlineExceeded and its handler never runs, also when it waited in line behind a
busy server; a handler that outlives its deadline is cancelled and answered the same.
In one process: every call of a Dispatcher shares one loop timer, and a cancellation
that is not the deadline's stays a cancellation.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from kitcore import DeadlineExceeded, InvalidArgument
from kitcore.messaging.deadlines import (
    DEADLINE_SEPARATOR,
    TIMEOUT_HEADER,
    Deadlines,
    deadline_headers,
    deadline_of,
)
from kitcore.messaging.rpc import ERROR_HEADER, METHOD_HEADER, Dispatcher, Message


class Work:
    """A service that counts the calls it ran and sees its cancellations."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.started = asyncio.Event()
        self.cancelled = 0

    async def quick(self, s: str) -> str:
        """Return ``s`` in upper case."""
        self.ran.append(s)
        return s.upper()

    async def slow(self, seconds: float) -> str:
        """Sleep ``seconds``."""
        self.ran.append(f"slow {seconds}")
        self.started.set()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return "done"

    async def hang(self) -> str:
        """Wait for ever (no timer of its own)."""
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return "woken"


class Broker:
    """One transport's server and a raw client sending any headers, on a fresh name."""

    name: str

    def serve(self, service: object, slots: int = 64, **options: Any) -> Any:
        """The transport's Subscriber (an async context manager) serving ``service``."""
        raise NotImplementedError

    async def raw(
        self, method: str, body: bytes, headers: dict[str, str], wait: float = 10.0
    ) -> tuple[dict[str, str], bytes]:
        """Send one request by hand; wait ``wait`` s for its reply (headers, body)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Close the connection and delete what the test made."""


class NatsBroker(Broker):
    name = "nats"

    def __init__(self, nc: Any) -> None:
        self.nc = nc
        self.subject = f"kit_test_deadlines_{uuid.uuid4().hex}"

    def serve(self, service: object, slots: int = 64, **options: Any) -> Any:
        from kit_nats.server import Subscriber

        return Subscriber(self.nc, self.subject, service, concurrency=slots, **options)

    async def raw(
        self, method: str, body: bytes, headers: dict[str, str], wait: float = 10.0
    ) -> tuple[dict[str, str], bytes]:
        msg = await self.nc.request(f"{self.subject}.{method}", body, timeout=wait, headers=headers)
        return dict(msg.headers or {}), msg.data

    async def close(self) -> None:
        await self.nc.close()


class AmqpBroker(Broker):
    name = "amqp"

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.queue = f"kit_test_deadlines_{uuid.uuid4().hex}"
        self._channel: Any = None
        self._replies: Any = None
        self._waiting: dict[str, asyncio.Future[Any]] = {}

    def serve(self, service: object, slots: int = 64, **options: Any) -> Any:
        from kit_amqp.server import Subscriber

        return Subscriber(self.conn, self.queue, service, prefetch=slots, **options)

    async def _on_reply(self, msg: Any) -> None:
        future = self._waiting.pop(msg.correlation_id or "", None)
        if future is not None:
            future.set_result(msg)

    async def raw(
        self, method: str, body: bytes, headers: dict[str, str], wait: float = 10.0
    ) -> tuple[dict[str, str], bytes]:
        import aio_pika
        from kit_amqp.connection import text_headers

        if self._channel is None:
            self._channel = await self.conn.channel()
            self._replies = await self._channel.declare_queue(exclusive=True)
            await self._replies.consume(self._on_reply, no_ack=True)
        cid = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        self._waiting[cid] = future
        # No AMQP expiration: the broker keeps the request however long it waits, so
        # what becomes of a stale one is the server's doing.
        await self._channel.default_exchange.publish(
            aio_pika.Message(
                body,
                headers={**headers, METHOD_HEADER: method},
                correlation_id=cid,
                reply_to=self._replies.name,
            ),
            routing_key=self.queue,
        )
        msg = await asyncio.wait_for(future, wait)
        return text_headers(msg.headers), msg.body

    async def close(self) -> None:
        channel = await self.conn.channel()
        await channel.queue_delete(self.queue)
        await channel.close()
        await self.conn.close()


@pytest.fixture(params=["nats", "amqp"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    """Each broker transport in turn, on a subject or queue of its own."""
    made: Broker
    if request.param == "nats":
        pytest.importorskip("kit_nats")
        from kit_nats.testing import connection as nats_connection

        made = NatsBroker(await nats_connection())
    else:
        pytest.importorskip("kit_amqp")
        from kit_amqp.testing import connection as amqp_connection

        made = AmqpBroker(await amqp_connection())
    try:
        yield made
    finally:
        await made.close()


def _error(reply: tuple[dict[str, str], bytes]) -> dict[str, Any]:
    headers, body = reply
    assert ERROR_HEADER in headers, (headers, body)
    wire: dict[str, Any] = msgspec.json.decode(body)
    assert wire["code"] == headers[ERROR_HEADER]
    return wire


def _past(ms_ago: int) -> dict[str, str]:
    """Headers of a request whose deadline passed ``ms_ago`` ms ago (a budget left of 5 s)."""
    return {TIMEOUT_HEADER: f"5000{DEADLINE_SEPARATOR}{int(time.time() * 1000) - ms_ago}"}


async def test_a_request_past_its_deadline_is_refused_unserved(broker: Broker) -> None:
    work = Work()
    finals: list[str | None] = []
    options: dict[str, Any] = {
        "finalizer": lambda m, e, s: finals.append(None if e is None else type(e).__name__)
    }
    async with broker.serve(work, **options):
        wire = _error(await broker.raw("quick", b'{"s": "late"}', _past(1000)))
        assert wire["code"] == "deadline_exceeded"
        wire = _error(await broker.raw("quick", b'{"s": "no time"}', {TIMEOUT_HEADER: "0"}))
        assert wire["code"] == "deadline_exceeded"
        assert work.ran == []  # the handler never ran
        headers, body = await broker.raw("quick", b'{"s": "on time"}', deadline_headers(5.0))
        assert ERROR_HEADER not in headers and msgspec.json.decode(body) == "ON TIME"
    assert work.ran == ["on time"]
    assert finals == ["DeadlineExceeded", "DeadlineExceeded", None]


async def test_a_request_that_waited_past_its_deadline_behind_a_busy_server_is_not_run(
    broker: Broker,
) -> None:
    work = Work()
    async with broker.serve(work, slots=1):
        busy = asyncio.create_task(broker.raw("slow", b'{"seconds": 1.0}', {}))
        await asyncio.wait_for(work.started.wait(), 10)
        # In line behind the slow call (one slot): its 200 ms pass while it waits.
        late = await broker.raw("quick", b'{"s": "late"}', deadline_headers(0.2))
        assert _error(late)["code"] == "deadline_exceeded"
        assert msgspec.json.decode((await busy)[1]) == "done"
    assert work.ran == ["slow 1.0"]


async def test_wall_clock_off_serves_by_the_budget_alone(broker: Broker) -> None:
    work = Work()
    async with broker.serve(work, wall_clock=False):
        headers, body = await broker.raw("quick", b'{"s": "skewed"}', _past(60_000))
    assert ERROR_HEADER not in headers and msgspec.json.decode(body) == "SKEWED"


async def test_a_handler_past_its_deadline_is_cancelled_and_answered(broker: Broker) -> None:
    work = Work()
    async with broker.serve(work):
        # The raw caller waits on past its own deadline to see what the server answers.
        reply = await broker.raw("slow", b'{"seconds": 30}', deadline_headers(0.3))
        assert _error(reply)["code"] == "deadline_exceeded"
        assert work.cancelled == 1
        _, body = await broker.raw("quick", b'{"s": "still up"}', deadline_headers(5.0))
        assert msgspec.json.decode(body) == "STILL UP"


async def test_concurrent_calls_each_get_their_own_deadline(broker: Broker) -> None:
    work = Work()
    async with broker.serve(work, slots=200):
        await broker.raw("quick", b'{"s": "warm"}', {})  # the raw client's channel is up
        calls = [
            broker.raw("slow", b'{"seconds": 1.0}', deadline_headers(0.3 if i % 2 else 10.0))
            for i in range(100)
        ]
        replies = await asyncio.gather(*calls)
    for i, (headers, body) in enumerate(replies):
        if i % 2:
            assert headers.get(ERROR_HEADER) == "deadline_exceeded", (i, headers)
        else:
            assert ERROR_HEADER not in headers and msgspec.json.decode(body) == "done", i
    started = len(work.ran) - 1  # less the warm-up
    # Each short call that started was cancelled (on a loaded machine some may have
    # arrived too late to start at all); the long ones all ran to the end.
    assert started >= 50 and work.cancelled == started - 50


# -- in one process: the Dispatcher and Deadlines themselves ---------------------------


def _timers(loop: asyncio.AbstractEventLoop) -> int:
    # The loop's own heap of timer handles (asyncio.BaseEventLoop): what a timer per
    # call would fill.
    scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
    return len([h for h in scheduled if not h.cancelled()])


async def test_a_thousand_calls_in_flight_share_one_timer() -> None:
    loop = asyncio.get_running_loop()
    work = Work()
    dispatcher = Dispatcher(work)
    before = _timers(loop)
    messages = [Message("hang", deadline_headers(0.05 + i / 10_000), b"{}") for i in range(1000)]
    tasks = [asyncio.create_task(dispatcher.handle(m)) for m in messages]
    await asyncio.sleep(0)  # every call started and is waiting
    assert dispatcher.deadlines.pending == 1000
    assert _timers(loop) == before + 1
    replies = await asyncio.gather(*tasks)
    assert {r.headers.get(ERROR_HEADER) for r in replies} == {"deadline_exceeded"}
    assert work.cancelled == 1000 and dispatcher.deadlines.pending == 0
    dispatcher.deadlines.close()
    assert _timers(loop) == before


async def test_a_cancellation_that_is_not_the_deadlines_stays_one() -> None:
    deadlines = Deadlines()
    task = asyncio.create_task(deadlines.run(asyncio.sleep(30), time.monotonic() + 10))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert deadlines.pending == 0


async def test_the_deadline_and_an_outside_cancel_at_once_is_a_cancellation() -> None:
    deadlines = Deadlines()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            task.cancel()  # a server stopping, at the same moment
            raise

    task = asyncio.create_task(deadlines.run(stubborn(), time.monotonic() + 0.01))
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_handler_that_swallows_the_cancel_leaves_its_task_clean() -> None:
    deadlines = Deadlines()

    async def swallow() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return "swallowed"
        return "slept"

    async def run() -> tuple[str, int]:
        result = await deadlines.run(swallow(), time.monotonic() + 0.01)
        current = asyncio.current_task()
        assert current is not None
        if sys.version_info >= (3, 11):  # no count of cancellations before
            return result, current.cancelling()
        return result, 0

    assert await asyncio.create_task(run()) == ("swallowed", 0)


async def test_an_instant_already_past_never_starts_the_call() -> None:
    started: list[bool] = []

    async def work() -> None:
        started.append(True)

    with pytest.raises(DeadlineExceeded):
        await Deadlines().run(work(), time.monotonic() - 1)
    assert started == []


@pytest.mark.parametrize("value", ["+5", "1_000", " 7", "²", "-1", "9" * 400, "", "soon"])
@pytest.mark.parametrize(
    "form", ["{}", "5000" + DEADLINE_SEPARATOR + "{}", "{}" + DEADLINE_SEPARATOR + "1"]
)
@pytest.mark.parametrize("wall_clock", [True, False])
def test_malformed_deadline_headers_are_invalid_arguments(
    form: str, value: str, wall_clock: bool
) -> None:
    # Either figure malformed (the instant even where it is ignored): refused, named.
    with pytest.raises(InvalidArgument) as raised:
        deadline_of({TIMEOUT_HEADER: form.format(value)}, None, wall_clock)
    assert raised.value.details == {"header": TIMEOUT_HEADER}


@pytest.mark.parametrize("value", ["5000;", "5000;1;2", "5000; 1", "5000;at=1", ";1"])
def test_a_budget_followed_by_anything_but_the_instant_is_refused(value: str) -> None:
    with pytest.raises(InvalidArgument):
        deadline_of({TIMEOUT_HEADER: value}, None)


def test_the_earliest_bound_wins() -> None:
    assert deadline_of({}, None) is None
    now = time.monotonic()
    by_cap = deadline_of({TIMEOUT_HEADER: "60000"}, 1.0)
    assert by_cap is not None and now + 1.0 <= by_cap <= time.monotonic() + 1.0
    now, wall = time.monotonic(), time.time()
    clock = {TIMEOUT_HEADER: f"60000{DEADLINE_SEPARATOR}{int(wall * 1000) + 2000}"}
    by_clock = deadline_of(clock, None)
    after = time.monotonic()
    # 2 s after ``wall``, less the time between reading the clocks, and 1 ms of rounding.
    assert by_clock is not None and now + 2.0 - (after - now) - 0.002 <= by_clock <= after + 2.0
    now = time.monotonic()
    three = {TIMEOUT_HEADER: f"3000{DEADLINE_SEPARATOR}{int(wall * 1000) + 2000}"}
    ignored = deadline_of(three, None, wall_clock=False)
    assert ignored is not None and now + 3.0 <= ignored <= time.monotonic() + 3.0


def test_deadline_headers_say_the_same_in_both_forms_in_one_header() -> None:
    headers = deadline_headers(2.5)
    assert list(headers) == [TIMEOUT_HEADER]
    budget, at = headers[TIMEOUT_HEADER].split(DEADLINE_SEPARATOR)
    assert budget == "2500"
    assert abs(int(at) - (time.time() + 2.5) * 1000) < 100
