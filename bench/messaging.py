"""kit-nats and kit-amqp against the raw clients and FastStream, on the real brokers.

    .venv/bin/python bench/messaging.py [ROUNDS]   (default 5)

Request-reply: ``uppercase`` called ``RPC_CALLS`` times by 32 concurrent callers, server
and client in one process (the whole stack on both sides, as a service pays it), over
kit's subscriber: the Publisher endpoint (no deadline, as the raw clients send none),
the Publisher with a 5 s timeout (the deadline sent in headers and enforced by the
server), and the typed client of ``kitcore.connect`` (retry, budget, attempt timeout,
P2C-EWMA, outlier ejection; its 10 s deadline sent and enforced), vs raw nats-py
request/respond (without headers, and with kit's deadline header: what a raw client
sending a deadline pays; the raw server replies without echoing it, as kit's does) and
raw aio-pika RPC (exclusive reply queue,
correlation ids).
Throughput, p99 latency, and the process's CPU time per call (client and server; the
broker is another process): CPU is the steadier figure on a shared machine.

Events: ``EVENTS`` events published first, then the time for a consumer to handle
(decode, count) and ack them all: kit's EventConsumer vs the raw client doing the same
(JetStream pull fetch + ack; RabbitMQ basic.consume + ack, prefetch 100) vs FastStream
running the same handler on the same broker.

Contenders are interleaved round by round and the best round of each kept: the machine
has 2 cores shared with other work, so single figures are noisy. Writes the
"messaging" section of BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aio_pika
import msgspec
import nats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import abest_of, best_of, machine, write_section
from kit_amqp.client import Publisher as AmqpPublisher
from kit_amqp.events import EventConsumer as AmqpConsumer
from kit_amqp.events import EventPublisher as AmqpEvents
from kit_amqp.events import delete as amqp_delete
from kit_amqp.server import Subscriber as AmqpSubscriber
from kit_nats.client import Publisher as NatsPublisher
from kit_nats.events import EventConsumer as NatsConsumer
from kit_nats.events import EventPublisher as NatsEvents
from kit_nats.events import ensure_stream
from kit_nats.server import Subscriber as NatsSubscriber

import kitcore
from kitcore import hookimpl
from kitcore.messaging.events import EventHandler
from kitcore.messaging.rpc import Dispatcher, Message, request_headers
from kitcore.plugins.manager import load as load_plugins

NATS = "nats://127.0.0.1:4222"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"
RPC_CALLS = 10000
CALLERS = 32
EVENTS = 5000


class Upper:
    """The service under test."""

    async def uppercase(self, s: str) -> str:
        """Return ``s`` in upper case."""
        return s.upper()


class UpperRequest(msgspec.Struct):
    """The raw contenders' request."""

    s: str


class Event(msgspec.Struct):
    """The events' body."""

    n: int


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(call: Callable[[], Awaitable[Any]]) -> tuple[float, float, float]:
    """Run ``RPC_CALLS`` calls from ``CALLERS`` callers: (calls/s, p99 s, CPU s per call)."""
    latencies: list[float] = []
    remaining = RPC_CALLS

    async def caller() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    for attempt in range(100):  # the broker has taken the subscription, but may not yet route to it
        try:
            await call()
            break
        except Exception:
            if attempt == 99:
                raise
            await asyncio.sleep(0.01)
    for _ in range(200):  # warm-up
        await call()
    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller() for _ in range(CALLERS)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return RPC_CALLS / elapsed, percentile(latencies, 0.99), cpu / RPC_CALLS


# -- request-reply contenders ----------------------------------------------------------


Rpc = tuple[float, float, float]


async def _kit_nats(make: Callable[[Any, str], Callable[[], Awaitable[Any]]]) -> Rpc:
    subject = f"bench_{uuid.uuid4().hex}"
    server, client = await nats.connect(NATS), await nats.connect(NATS)
    async with NatsSubscriber(server, subject, Upper()):
        result = await load(make(client, subject))
    await server.close()
    await client.close()
    return result


async def rpc_kit_nats_publisher() -> Rpc:
    """kit's Publisher endpoint over kit's NATS subscriber."""

    def make(nc: Any, subject: str) -> Callable[[], Awaitable[Any]]:
        call = NatsPublisher(nc, f"{subject}.uppercase", response_type=str)
        return lambda: call(UpperRequest("hello"))

    return await _kit_nats(make)


async def rpc_kit_nats_publisher_deadline() -> Rpc:
    """kit's Publisher endpoint with a 5 s timeout: the deadline sent and enforced."""

    def make(nc: Any, subject: str) -> Callable[[], Awaitable[Any]]:
        call = NatsPublisher(nc, f"{subject}.uppercase", response_type=str, timeout=5.0)
        return lambda: call(UpperRequest("hello"))

    return await _kit_nats(make)


async def rpc_kit_nats() -> Rpc:
    """kit's typed client (kitcore.connect) over kit's NATS subscriber."""
    subject = f"bench_{uuid.uuid4().hex}"
    nc = await nats.connect(NATS)
    async with (
        NatsSubscriber(nc, subject, Upper()),
        kitcore.closing(kitcore.connect(Upper, f"{NATS}/{subject}")) as client,
    ):
        result = await load(lambda: client.uppercase("hello"))
    await nc.close()
    return result


async def _raw_nats(with_headers: bool) -> Rpc:
    subject = f"bench_{uuid.uuid4().hex}"
    server, client = await nats.connect(NATS), await nats.connect(NATS)
    decode = msgspec.json.Decoder(UpperRequest).decode
    encode = msgspec.json.encode

    async def handler(msg: Any) -> None:
        # Not msg.respond(): it sends the request's headers back in the reply, which
        # kit's server does not (the deadline headers would be paid for twice).
        await server.publish(msg.reply, encode(decode(msg.data).s.upper()))

    await server.subscribe(subject, queue=subject, cb=handler)
    await server.flush()
    body = encode(UpperRequest("hello"))
    reply_decode = msgspec.json.Decoder(str).decode

    async def call() -> str:
        return reply_decode((await client.request(subject, body, timeout=5)).data)

    async def call_with_headers() -> str:
        headers = {"Kit-Timeout": f"5000;{int(time.time() * 1000) + 5000}"}
        return reply_decode((await client.request(subject, body, timeout=5, headers=headers)).data)

    result = await load(call_with_headers if with_headers else call)
    await server.close()
    await client.close()
    return result


async def rpc_raw_nats() -> Rpc:
    """nats-py request/respond with the same JSON codec."""
    return await _raw_nats(False)


async def rpc_raw_nats_headers() -> Rpc:
    """nats-py request/respond sending kit's deadline header, made afresh per call."""
    return await _raw_nats(True)


async def _kit_amqp(timeout: float | None) -> Rpc:
    queue = f"bench_{uuid.uuid4().hex}"
    server, client = await aio_pika.connect_robust(AMQP), await aio_pika.connect_robust(AMQP)
    call = AmqpPublisher(client, queue, "uppercase", response_type=str, timeout=timeout)
    async with AmqpSubscriber(server, queue, Upper()):
        result = await load(lambda: call(UpperRequest("hello")))
    await call.close()
    channel = await server.channel()
    await channel.queue_delete(queue)
    await server.close()
    await client.close()
    return result


async def rpc_kit_amqp_publisher() -> Rpc:
    """kit's Publisher endpoint over kit's AMQP subscriber."""
    return await _kit_amqp(None)


async def rpc_kit_amqp_publisher_deadline() -> Rpc:
    """kit's Publisher endpoint with a 5 s timeout: the deadline sent and enforced."""
    return await _kit_amqp(5.0)


async def rpc_kit_amqp() -> Rpc:
    """kit's typed client (kitcore.connect) over kit's AMQP subscriber."""
    queue = f"bench_{uuid.uuid4().hex}"
    connection = await aio_pika.connect_robust(AMQP)
    async with (
        AmqpSubscriber(connection, queue, Upper()),
        kitcore.closing(kitcore.connect(Upper, f"{AMQP}{queue}")) as client,
    ):
        result = await load(lambda: client.uppercase("hello"))
    channel = await connection.channel()
    await channel.queue_delete(queue)
    await connection.close()
    return result


async def rpc_raw_amqp() -> Rpc:
    """aio-pika RPC as its docs write it: an exclusive reply queue, futures by correlation id."""
    queue_name = f"bench_{uuid.uuid4().hex}"
    server_conn = await aio_pika.connect_robust(AMQP)
    client_conn = await aio_pika.connect_robust(AMQP)
    decode = msgspec.json.Decoder(UpperRequest).decode
    encode = msgspec.json.encode
    server_channel = await server_conn.channel()
    await server_channel.set_qos(prefetch_count=64)
    queue = await server_channel.declare_queue(queue_name, durable=True)

    async def serve(msg: Any) -> None:
        body = encode(decode(msg.body).s.upper())
        await server_channel.default_exchange.publish(
            aio_pika.Message(body, correlation_id=msg.correlation_id), routing_key=msg.reply_to
        )
        await msg.ack()

    await queue.consume(serve)
    channel = await client_conn.channel()
    replies = await channel.declare_queue(exclusive=True)
    waiting: dict[str, asyncio.Future[Any]] = {}

    async def on_reply(msg: Any) -> None:
        future = waiting.pop(msg.correlation_id, None)
        if future is not None:
            future.set_result(msg)

    await replies.consume(on_reply, no_ack=True)
    body = encode(UpperRequest("hello"))
    reply_decode = msgspec.json.Decoder(str).decode

    async def call() -> str:
        cid = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        waiting[cid] = future
        await channel.default_exchange.publish(
            aio_pika.Message(body, correlation_id=cid, reply_to=replies.name),
            routing_key=queue_name,
        )
        return reply_decode((await asyncio.wait_for(future, 5)).body)

    result = await load(call)
    await server_channel.queue_delete(queue_name)
    await server_conn.close()
    await client_conn.close()
    return result


# -- event contenders ------------------------------------------------------------------


async def _until(predicate: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("events not all handled")
        await asyncio.sleep(0.001)


async def _nats_stream() -> tuple[Any, str, str]:
    nc = await nats.connect(NATS)
    run = uuid.uuid4().hex
    stream, subject = f"BENCH_{run}", f"bench.{run}"
    await ensure_stream(nc.jetstream(), stream, [subject])
    publisher = NatsEvents(nc.jetstream(), subject)
    for start in range(0, EVENTS, 500):
        await asyncio.gather(*(publisher.publish(Event(n)) for n in range(start, start + 500)))
    return nc, stream, subject


async def _nats_cleanup(nc: Any, stream: str) -> None:
    for name in (stream, f"{stream}_DEAD"):
        with contextlib.suppress(nats.js.errors.NotFoundError):  # never created
            await nc.jetstream().delete_stream(name)
    await nc.close()


async def events_kit_nats() -> tuple[float, float]:
    """kit's JetStream EventConsumer."""
    nc, stream, subject = await _nats_stream()
    seen = 0

    async def handle(event: Event) -> None:
        nonlocal seen
        seen += 1

    handler = EventHandler.for_type("bench", handle, Event)
    start, cpu = time.perf_counter(), time.process_time()
    async with NatsConsumer(nc, stream, subject, handler, batch=100, concurrency=100):
        await _until(lambda: seen >= EVENTS)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await _nats_cleanup(nc, stream)
    return EVENTS / elapsed, cpu / EVENTS


async def events_raw_nats() -> tuple[float, float]:
    """nats-py: a durable pull consumer, fetch 100, decode, handle, ack each."""
    nc, stream, subject = await _nats_stream()
    decode = msgspec.json.Decoder(Event).decode
    seen = 0
    start, cpu = time.perf_counter(), time.process_time()
    sub = await nc.jetstream().pull_subscribe(subject, durable="raw", stream=stream)
    while seen < EVENTS:
        for msg in await sub.fetch(100, timeout=5):
            decode(msg.data)
            seen += 1
            await msg.ack()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await _nats_cleanup(nc, stream)
    return EVENTS / elapsed, cpu / EVENTS


async def events_faststream_nats() -> tuple[float, float]:
    """FastStream's NatsBroker: a durable pull subscriber, acking after the handler."""
    from faststream import AckPolicy
    from faststream.nats import JStream, NatsBroker, PullSub

    nc, stream, subject = await _nats_stream()
    broker = NatsBroker(NATS, logger=None)
    seen = 0

    @broker.subscriber(  # type: ignore[untyped-decorator,unused-ignore]
        subject,
        stream=JStream(name=stream, declare=False),
        durable="faststream",
        pull_sub=PullSub(batch_size=100),
        ack_policy=AckPolicy.ACK,
    )
    async def handle(event: dict[str, Any]) -> None:
        nonlocal seen
        seen += 1

    start, cpu = time.perf_counter(), time.process_time()
    await broker.start()
    await _until(lambda: seen >= EVENTS)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await broker.stop()
    await _nats_cleanup(nc, stream)
    return EVENTS / elapsed, cpu / EVENTS


async def _amqp_queue() -> tuple[Any, str]:
    connection = await aio_pika.connect_robust(AMQP)
    queue = f"bench_{uuid.uuid4().hex}"
    publisher = AmqpEvents(connection, queue)
    for start in range(0, EVENTS, 500):
        await asyncio.gather(*(publisher.publish(Event(n)) for n in range(start, start + 500)))
    await publisher.close()
    return connection, queue


async def _amqp_cleanup(connection: Any, queue: str) -> None:
    channel = await connection.channel()
    await amqp_delete(channel, queue)
    await connection.close()


async def events_kit_amqp() -> tuple[float, float]:
    """kit's RabbitMQ EventConsumer."""
    connection, queue = await _amqp_queue()
    seen = 0

    async def handle(event: Event) -> None:
        nonlocal seen
        seen += 1

    handler = EventHandler.for_type("bench", handle, Event)
    start, cpu = time.perf_counter(), time.process_time()
    async with AmqpConsumer(connection, queue, handler, prefetch=100):
        await _until(lambda: seen >= EVENTS)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await _amqp_cleanup(connection, queue)
    return EVENTS / elapsed, cpu / EVENTS


async def events_raw_amqp() -> tuple[float, float]:
    """aio-pika: basic.consume with prefetch 100, decode, handle, ack each."""
    connection, queue_name = await _amqp_queue()
    decode = msgspec.json.Decoder(Event).decode
    seen = 0
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=100)
    queue = await channel.get_queue(queue_name)

    async def on_message(msg: Any) -> None:
        nonlocal seen
        decode(msg.body)
        seen += 1
        await msg.ack()

    start, cpu = time.perf_counter(), time.process_time()
    tag = await queue.consume(on_message)
    await _until(lambda: seen >= EVENTS)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await queue.cancel(tag)
    await channel.close()
    await _amqp_cleanup(connection, queue_name)
    return EVENTS / elapsed, cpu / EVENTS


async def events_faststream_amqp() -> tuple[float, float]:
    """FastStream's RabbitBroker on the same queue, prefetch 100, acking after the handler."""
    from faststream import AckPolicy
    from faststream.rabbit import Channel, RabbitBroker, RabbitQueue

    connection, queue = await _amqp_queue()
    broker = RabbitBroker(AMQP, default_channel=Channel(prefetch_count=100), logger=None)
    seen = 0
    declared = RabbitQueue(
        queue, durable=True, arguments={"x-dead-letter-exchange": f"{queue}.dlx"}
    )

    @broker.subscriber(declared, ack_policy=AckPolicy.ACK)  # type: ignore[untyped-decorator,unused-ignore]
    async def handle(event: dict[str, Any]) -> None:
        nonlocal seen
        seen += 1

    start, cpu = time.perf_counter(), time.process_time()
    await broker.start()
    await _until(lambda: seen >= EVENTS)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await broker.stop()
    await _amqp_cleanup(connection, queue)
    return EVENTS / elapsed, cpu / EVENTS


RPC = {
    "nats-py request/respond": rpc_raw_nats,
    "nats-py request/respond, kit's deadline header": rpc_raw_nats_headers,
    "kit-nats Publisher": rpc_kit_nats_publisher,
    "kit-nats Publisher, 5 s deadline": rpc_kit_nats_publisher_deadline,
    "kit-nats typed client (connect)": rpc_kit_nats,
    "aio-pika RPC": rpc_raw_amqp,
    "kit-amqp Publisher": rpc_kit_amqp_publisher,
    "kit-amqp Publisher, 5 s deadline": rpc_kit_amqp_publisher_deadline,
    "kit-amqp typed client (connect)": rpc_kit_amqp,
}
RAW_OF = {name: "nats-py request/respond" for name in RPC if name.startswith("kit-nats")} | {
    name: "aio-pika RPC" for name in RPC if name.startswith("kit-amqp")
}
# What a raw client doing the same pays: kit's deadline rows against raw nats-py sending
# the same header (nats-py's header path is most of what a deadline costs).
LIKE_OF = RAW_OF | {
    "kit-nats Publisher, 5 s deadline": "nats-py request/respond, kit's deadline header",
    "kit-nats typed client (connect)": "nats-py request/respond, kit's deadline header",
}
EVENTS_CONTENDERS = {
    "kit-nats EventConsumer": events_kit_nats,
    "nats-py pull + ack": events_raw_nats,
    "FastStream NatsBroker": events_faststream_nats,
    "kit-amqp EventConsumer": events_kit_amqp,
    "aio-pika consume + ack": events_raw_amqp,
    "FastStream RabbitBroker": events_faststream_amqp,
}


# -- where the typed client's time goes: its parts in one process, no broker ----------


class _Inproc:
    """A transport calling the service in this process: connect's own parts, no wire."""

    @hookimpl
    def kit_register_transports(self, register: Any) -> None:
        """Register ``inproc``."""
        service = Upper()

        def factory(spec: Any, instance: str, **options: Any) -> tuple[Any, Any]:
            async def endpoint(call: Any) -> Any:
                return await service.uppercase(call.request.s)

            return endpoint, None

        register("inproc", factory)


async def nats_header_cost() -> dict[int, float]:
    """CPU us per raw nats-py round trip carrying no header, kit's one, and two (best of 2)."""
    subject = f"bench_{uuid.uuid4().hex}"
    server, client = await nats.connect(NATS), await nats.connect(NATS)

    async def echo(msg: Any) -> None:
        await server.publish(msg.reply, msg.data)  # without the request's headers

    await server.subscribe(subject, queue=subject, cb=echo)
    await server.flush()
    sets: dict[int, dict[str, str] | None] = {
        0: None,
        1: request_headers(None, 5.0)[0],
        2: {"Kit-Timeout": "5000", "Kit-Deadline": "1764693000123"},  # kit's form until 2026-12-03
    }

    def call(headers: dict[str, str] | None) -> Callable[[], Awaitable[Any]]:
        return lambda: client.request(subject, b'"hello"', timeout=5, headers=headers)

    cost: dict[int, float] = {}
    for _ in range(2):
        for n, headers in sets.items():
            _, _, cpu = await load(call(headers))
            cost[n] = min(cpu * 1e6, cost.get(n, float("inf")))
    await server.close()
    await client.close()
    return cost


async def breakdown() -> dict[str, float]:
    """Microseconds per call of the typed client's parts (best of 7 x 5000)."""
    manager = load_plugins(entry_points=False, extra=[("bench-inproc", _Inproc())])
    service = Upper()
    dispatcher = Dispatcher(Upper())
    plain = Message("uppercase", {}, b'{"s": "hello"}')
    bounded = Message("uppercase", request_headers(None, 10.0)[0], b'{"s": "hello"}')
    figures: dict[str, float] = {}
    async with kitcore.closing(kitcore.connect(Upper, "inproc://here", manager=manager)) as client:
        parts: dict[str, Callable[[], Awaitable[Any]]] = {
            "the method called directly": lambda: service.uppercase("hello"),
            "kitcore.connect's chain, in-process transport": lambda: client.uppercase("hello"),
            "Dispatcher.handle, no deadline": lambda: dispatcher.handle(plain),
            "Dispatcher.handle, deadline in headers": lambda: dispatcher.handle(bounded),
        }
        for name, part in parts.items():
            figures[name] = await abest_of(part, number=5000) * 1e6
    figures["request_headers() with a deadline"] = (
        best_of(lambda: request_headers(None, 10.0), number=20000) * 1e6
    )
    return figures


async def main(rounds: int) -> None:
    rpc: dict[str, Rpc] = {}
    rates: dict[str, list[float]] = {name: [] for name in RPC}
    events: dict[str, tuple[float, float]] = {}
    for r in range(rounds):
        for name, run in RPC.items():
            rate, p99, cpu = await run()
            rates[name].append(rate)
            print(
                f"round {r}: {name}: {rate:.0f}/s p99 {p99 * 1e3:.2f} ms cpu {cpu * 1e6:.0f} us",
                flush=True,
            )
            best = rpc.get(name)
            rpc[name] = (
                (max(rate, best[0]), min(p99, best[1]), min(cpu, best[2]))
                if best
                else (rate, p99, cpu)
            )
        for name, run_events in EVENTS_CONTENDERS.items():
            rate, cpu = await run_events()
            print(f"round {r}: {name}: {rate:.0f} events/s cpu {cpu * 1e6:.0f} us", flush=True)
            best_events = events.get(name)
            events[name] = (
                (max(rate, best_events[0]), min(cpu, best_events[1]))
                if best_events
                else (rate, cpu)
            )
    parts = await breakdown()
    headers = await nats_header_cost()

    lines = [
        "## Messaging (kit-nats, kit-amqp)",
        "",
        f"`bench/messaging.py {rounds}`; {machine()}; NATS 4222 (JetStream) and RabbitMQ "
        f"5672 on loopback; best of {rounds} interleaved rounds for each figure. The "
        "machine's 2 cores were shared with other engineers' work while this ran: "
        "throughput and p99 move by tens of percent between runs; CPU per call (this "
        "process: client and server, not the broker) is the steadier figure.",
        "",
        f"Request-reply: {RPC_CALLS} calls of `uppercase` from {CALLERS} concurrent callers, "
        "server and client in one process. Ratios are kit / raw (throughput: higher is "
        "better; p99 and CPU: lower is better).",
        "",
        "The same-round median is the median over rounds of kit's rate divided by its "
        "raw peer's in that round (the peers ran seconds apart, so the machine's swings "
        'touch both); "like raw" is the raw client doing the same: for kit\'s deadline '
        "rows, raw nats-py sending the same header (its server replying without "
        "echoing it, as kit's does: nats-py's `msg.respond` sends the request's headers "
        "back, which made the peer pay for them twice in runs before 2026-12-03).",
        "",
        "| contender | calls/s | vs raw | vs like raw | same-round median vs like raw "
        "| p99 ms | vs raw | CPU us/call | vs raw | vs like raw |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def median_ratio(name: str) -> float:
        ratios = sorted(a / b for a, b in zip(rates[name], rates[LIKE_OF[name]], strict=True))
        return ratios[len(ratios) // 2]

    for name, (rate, p99, cpu) in rpc.items():
        raw, like = rpc[RAW_OF.get(name, name)], rpc[LIKE_OF.get(name, name)]
        median = f"{median_ratio(name):.2f}x" if name in LIKE_OF else "-"
        lines.append(
            f"| {name} | {rate:.0f} | {rate / raw[0]:.2f}x | {rate / like[0]:.2f}x | {median} "
            f"| {p99 * 1e3:.2f} | {p99 / raw[1]:.2f}x | {cpu * 1e6:.0f} | {cpu / raw[2]:.2f}x "
            f"| {cpu / like[2]:.2f}x |"
        )
    short = [
        f"{name} {rate / rpc[RAW_OF[name]][0]:.2f}x of raw "
        f"({rate / rpc[LIKE_OF[name]][0]:.2f}x like raw, median {median_ratio(name):.2f}x)"
        for name, (rate, _, _) in rpc.items()
        if name in RAW_OF and rate / rpc[RAW_OF[name]][0] < 0.90
    ]
    chain = parts["kitcore.connect's chain, in-process transport"]
    server_deadline = (
        parts["Dispatcher.handle, deadline in headers"] - parts["Dispatcher.handle, no deadline"]
    )
    nats_cpu = {name: cpu * 1e6 for name, (_, _, cpu) in rpc.items()}
    lines += [
        "",
        "Below the 0.90x throughput target in this run: "
        + (", ".join(short) if short else "none")
        + ". Where the time goes (CPU per call, this run):",
        "",
        f"- **kit-nats Publisher** ({nats_cpu['kit-nats Publisher']:.0f} us vs "
        f"{nats_cpu['nats-py request/respond']:.0f} raw): the Dispatcher "
        f"({parts['Dispatcher.handle, no deadline']:.1f} us: decode, route, encode, "
        "options) and the Publisher's typed-error check. Requests are served by a fixed "
        "set of worker tasks (`kitcore.messaging.workers`), so a slow handler holds up no "
        "other, where nats-py's callback serves one message at a time; until 2026-12-03 "
        "each request had a task of its own, which cost more than the Dispatcher (by "
        "callgrind under 32 callers: 317,000 instructions a call against 280,000 now and "
        "250,000 for raw nats-py).",
        f"- **the deadline on the wire** (Publisher with a 5 s deadline, "
        f"{nats_cpu['kit-nats Publisher, 5 s deadline']:.0f} us): nats-py's header path "
        f"(HPUB/HMSG instead of PUB/MSG). A raw nats-py round trip costs "
        f"{headers[0]:.0f} us with no header, {headers[1]:.0f} us with one and "
        f"{headers[2]:.0f} us with two; kit sends one (`Kit-Timeout: "
        "5000;<Unix ms>`, the time left and its instant). Kit's own "
        f"server-side enforcement is {server_deadline:.1f} us (parsing the header, "
        "binding the deadline in `kitcore.context`, one shared timer per Dispatcher "
        "instead of an asyncio timeout per call).",
        f"- **the typed client** ({nats_cpu['kit-nats typed client (connect)']:.0f} us): "
        "always sends its deadline (Retry's 10 s), so it pays the line above, plus "
        f"`kitcore.connect`'s chain, {chain:.1f} us a call with no wire at all: Retry "
        "(its attempt bounded on the loop's shared deadline timer, `kitcore.deadlines`), "
        "AttemptTimeout's latency histogram, PeakEwma, OutlierEjection, RetryBudget, "
        "Endpointer. Instructions per call, counted by callgrind, are in the client "
        "section (`bench/client_instructions.py`), one by one and under 32 callers.",
        "- **AMQP**: aio-pika's own cost per round trip (~0.8 ms CPU) dwarfs kit's "
        "additions, so the ratios sit near 1.0 and move with the noise (the typed client "
        "above raw in one run and below it in another).",
        "",
        "Where the typed client's time goes, in one process with no broker (us per call, "
        "best of 7 x 5000):",
        "",
        "| part | us/call |",
        "|---|---|",
        *(f"| {name} | {us:.1f} |" for name, us in parts.items()),
        "",
        f"Events: {EVENTS} events stored first, then consumed with an ack after each handler "
        "(throughput; ratios are kit / the other, higher is better for kit; CPU is this "
        "process's per event).",
        "",
        "| contender | events/s | kit vs it | CPU us/event |",
        "|---|---|---|---|",
    ]
    kit_of = {"nats": "kit-nats EventConsumer", "amqp": "kit-amqp EventConsumer"}
    for name, (rate, cpu) in events.items():
        kit = kit_of["nats" if ("nats" in name.lower() or "Nats" in name) else "amqp"]
        lines.append(f"| {name} | {rate:.0f} | {events[kit][0] / rate:.2f}x | {cpu * 1e6:.0f} |")
    nats_fs = events["kit-nats EventConsumer"][0] / events["FastStream NatsBroker"][0]
    amqp_fs = events["kit-amqp EventConsumer"][0] / events["FastStream RabbitBroker"][0]
    lines += [
        "",
        f"Against FastStream (target: at least its throughput): kit-nats {nats_fs:.2f}x, "
        f"kit-amqp {amqp_fs:.2f}x. Against the bare client loop kit pays for what it "
        "adds per event: the decision (ack, retry with backoff, dead letter), a task per "
        "event (handlers run concurrently) and its bookkeeping for a draining stop.",
    ]
    write_section("messaging", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
