"""StatsD and DogStatsD providers, read back from the real datagrams on a bound UDP socket."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kit_statsd import UNIX_DATAGRAM, DogStatsdProvider, StatsdProvider
from kit_statsd.testing import Line, StatsdReader

import kitcore.metrics
from kitcore.testing.metrics import check_provider


@pytest.fixture
def reader() -> Iterator[StatsdReader]:
    with StatsdReader() as r:
        yield r


@pytest.fixture
def dog_reader() -> Iterator[StatsdReader]:
    with StatsdReader(dogstatsd=True, prefix="svc", tags={"env": "test"}) as r:
        yield r


def flavour_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("kit-statsd flush")]


# -- conformance ---------------------------------------------------------------------------


async def test_statsd_conformance() -> None:
    with (
        StatsdReader(prefix="svc") as reader,
        StatsdProvider(port=reader.port, prefix="svc") as provider,
    ):
        await check_provider(provider, reader.for_provider(provider))
        assert provider.stats().lines_dropped == 0
        assert len(reader.datagrams) < len(reader.lines)  # several lines per datagram


async def test_dogstatsd_conformance(dog_reader: StatsdReader) -> None:
    with DogStatsdProvider(port=dog_reader.port, prefix="svc", tags={"env": "test"}) as provider:
        await check_provider(provider, dog_reader.for_provider(provider))


# -- the wire ------------------------------------------------------------------------------


def received(reader: StatsdReader, provider: StatsdProvider | DogStatsdProvider) -> list[str]:
    reader.for_provider(provider).sync()
    return [text for d in reader.datagrams for text in d.decode().split("\n")]


def test_statsd_lines(reader: StatsdReader) -> None:
    with StatsdProvider(port=reader.port, prefix="svc.", flush_interval=None) as provider:
        requests = provider.counter("requests", "", ("method", "error"))
        requests.with_labels(method="uppercase", error="none").add()
        requests.with_labels(method="count", error="some.thing bad:|#").add(2.5)
        depth = provider.gauge("queue:depth")
        depth.set(3)
        depth.add(2)
        depth.add(-1.5)
        depth.set(-7)
        provider.histogram("latency_seconds", "", ("method",)).with_labels(method="x").observe(0.25)
        provider.timing("db_seconds").observe(0.0125)
        assert received(reader, provider) == [
            "svc.requests.uppercase.none:1|c",
            "svc.requests.count.some_thing_bad___:2.5|c",
            "svc.queue_depth:3|g",
            "svc.queue_depth:+2|g",
            "svc.queue_depth:-1.5|g",
            "svc.queue_depth:0|g",  # a signed value alone would be a delta
            "svc.queue_depth:-7|g",
            "svc.latency_seconds.x:0.25|ms",
            "svc.db_seconds:12.5|ms",
        ]
        reader.prefix = "svc"
        assert reader.gauge_value("queue_depth") == -7
        assert reader.counter_value("requests", {"method": "uppercase", "error": "none"}) == 1


def test_dogstatsd_lines(dog_reader: StatsdReader) -> None:
    with DogStatsdProvider(
        port=dog_reader.port, prefix="svc", tags="env:test", flush_interval=None
    ) as provider:
        requests = provider.counter("requests", "", ("method", "error"))
        requests.with_labels(method="uppercase", error="a,b|c#d e").add()
        depth = provider.gauge("depth", "", ("queue",)).with_labels(queue="q1")
        depth.set(3)
        depth.add(-5)  # DogStatsD has no deltas: the new absolute value is sent
        provider.gauge("depth", "", ("queue",)).with_labels(queue="q1").add(1)
        provider.histogram("size").observe(12)
        assert received(dog_reader, provider) == [
            "svc.requests:1|c|#env:test,method:uppercase,error:a_b_c_d_e",
            "svc.depth:3|g|#env:test,queue:q1",
            "svc.depth:-2|g|#env:test,queue:q1",
            "svc.depth:-1|g|#env:test,queue:q1",
            "svc.size:12|h|#env:test",
        ]
        assert dog_reader.gauge_value("depth", {"queue": "q1"}) == -1


def test_histogram_types(dog_reader: StatsdReader) -> None:
    with DogStatsdProvider(
        port=dog_reader.port, prefix="svc", histogram_type="d", flush_interval=None
    ) as provider:
        provider.histogram("size").observe(3)
        assert received(dog_reader, provider) == ["svc.size:3|d"]
    with pytest.raises(ValueError, match="histogram_type must be one of"):
        StatsdProvider(histogram_type="x")


# -- sampling ------------------------------------------------------------------------------


def test_sample_rates_are_applied_and_marked(reader: StatsdReader) -> None:
    with StatsdProvider(port=reader.port, sample_rate=0.25, seed=7) as provider:
        sampled = provider.counter("sampled")
        latency = provider.histogram("latency")
        full = provider.counter("full", sample_rate=1.0)
        for _ in range(4000):
            sampled.add()
            latency.observe(1)
            full.add()
        reader.for_provider(provider).sync()
    counted = reader.matching("sampled", {}, "c")
    observed = reader.matching("latency", {}, ("ms",))
    assert all(line.rate == 0.25 for line in counted + observed)
    # About a quarter of the events went out (binomial: sd 27, so +-200 is 7 sd).
    assert 800 <= len(counted) <= 1200 and 800 <= len(observed) <= 1200
    assert len(counted) != len(observed)  # sampled independently
    assert reader.counter_value("sampled") == len(counted) * 4
    assert len(reader.matching("full", {}, "c")) == 4000
    assert all(line.rate == 1.0 for line in reader.matching("full", {}, "c"))


def test_sample_rate_bounds() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        StatsdProvider(sample_rate=0)
    with StatsdProvider(flush_interval=None) as provider, pytest.raises(ValueError, match="rate"):
        provider.counter("c", sample_rate=1.5)


# -- buffering -----------------------------------------------------------------------------


def test_datagrams_respect_the_size_limit(reader: StatsdReader) -> None:
    with StatsdProvider(port=reader.port, max_datagram=200, flush_interval=None) as provider:
        counter = provider.counter("requests_total", "", ("endpoint",))
        for index in range(1000):
            counter.with_labels(endpoint=f"e{index % 37}").add(index)
        reader.for_provider(provider).sync()
        stats = provider.stats()
    assert len(reader.lines) == 1000 == stats.lines_sent
    assert all(len(d) <= 200 for d in reader.datagrams)
    assert stats.datagrams_sent == len(reader.datagrams) < 1000 / 5  # packed, not one per line
    # Full datagrams: adding the next line would have crossed the limit.
    lengths = [len(d) for d in reader.datagrams[:-1]]
    assert min(lengths) > 200 - 40


def test_a_line_longer_than_the_limit_goes_alone(reader: StatsdReader) -> None:
    with StatsdProvider(port=reader.port, max_datagram=100, flush_interval=None) as provider:
        provider.counter("short").add()
        provider.counter("long", "", ("path",)).with_labels(path="x" * 150).add()
        provider.counter("short").add()
        reader.for_provider(provider).sync()
    assert [len(d) > 100 for d in reader.datagrams] == [False, True, False]


def test_datagram_size_bounds() -> None:
    with pytest.raises(ValueError, match="max_datagram"):
        StatsdProvider(max_datagram=70000)


def test_flushed_on_the_interval_without_close(reader: StatsdReader) -> None:
    with StatsdProvider(port=reader.port, flush_interval=0.02) as provider:
        provider.counter("ticks").add(3)
        reader.receive(lines=1, timeout=10)  # no flush() call: the thread sent it
        assert [text.decode() for text in reader.datagrams] == ["ticks:3|c"]


def test_nothing_is_sent_before_a_flush_without_an_interval(reader: StatsdReader) -> None:
    with StatsdProvider(port=reader.port, flush_interval=None) as provider:
        provider.counter("ticks").add()
        assert provider.stats().lines_sent == 0 and reader.receive() == []
        assert flavour_threads() == []  # no interval, no thread


def test_flushed_on_close_and_the_thread_stops(reader: StatsdReader) -> None:
    before = flavour_threads()
    provider = StatsdProvider(port=reader.port, flush_interval=3600)
    assert len(flavour_threads()) == len(before) + 1
    for _ in range(5):
        provider.counter("bye").add()
    provider.close()
    assert flavour_threads() == before
    reader.receive(lines=5, timeout=10)
    assert reader.counter_value("bye") == 5
    provider.counter("bye").add()  # after close: dropped, no error
    provider.close()  # idempotent
    assert provider.stats().lines_dropped == 1


def test_concurrent_recording_loses_nothing(reader: StatsdReader) -> None:
    with StatsdProvider(port=reader.port, flush_interval=0.001) as provider:
        counter = provider.counter("hits", "", ("thread",))

        def record(index: int) -> None:
            bound = counter.with_labels(thread=str(index))
            for _ in range(2000):
                bound.add()

        threads = [threading.Thread(target=record, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        reader.for_provider(provider).sync()
    assert [reader.counter_value("hits", {"thread": str(i)}) for i in range(4)] == [2000] * 4


# -- a daemon that is not there ------------------------------------------------------------


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_daemon_costs_nothing_and_raises_nothing() -> None:
    with StatsdProvider(port=closed_port(), max_datagram=100, flush_interval=0.001) as provider:
        counter = provider.counter("lost_total", "", ("n",))
        sent = 0
        # The kernel reports the refusal (ICMP port unreachable) on a later send; keep
        # going until it has, to show that it is swallowed.
        while provider.stats().send_errors == 0 and sent < 100_000:
            counter.with_labels(n=str(sent % 10)).add()
            sent += 1
            if sent % 50 == 0:
                provider.flush()
        provider.flush()
        stats = provider.stats()
    assert stats.send_errors > 0
    assert stats.lines_sent + stats.lines_dropped == sent


# -- URLs and plugin -----------------------------------------------------------------------


def test_from_url(reader: StatsdReader) -> None:
    url = f"statsd://127.0.0.1:{reader.port}?prefix=svc&sample_rate=0.5&flush_interval=0"
    with StatsdProvider.from_url(url, seed=3) as provider:
        assert (provider.prefix, provider.sample_rate) == ("svc", 0.5)
        assert provider.sender.address == ("127.0.0.1", reader.port)
        assert provider.sender.flush_interval is None
    with DogStatsdProvider.from_url("dogstatsd://?tags=env:prod,team:core&flush_interval=0") as d:
        assert d.tags == {"env": "prod", "team": "core"}
        assert d.sender.address == ("127.0.0.1", 8125)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("dogstatsd://127.0.0.1:1", "not a statsd URL"),
        ("statsd://127.0.0.1:1/path", "not a statsd URL"),
        ("statsd://127.0.0.1:1?colour=red", "unknown statsd URL parameter"),
        ("statsd://127.0.0.1:1?sample_rate=often", "bad sample_rate"),
    ],
)
def test_from_url_errors(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        StatsdProvider.from_url(url)


def test_bad_tags_leave_no_thread() -> None:
    before = flavour_threads()
    with pytest.raises(ValueError, match="key:value"):
        DogStatsdProvider(tags="novalue")
    assert flavour_threads() == before


def test_plugins_open_both_flavours(reader: StatsdReader) -> None:
    from kitcore.plugins import plugins as loaded

    plugins = loaded()
    info = {i.name: i for i in plugins.infos}["kit-statsd"]
    assert info.error is None and info.registers == {"metrics": ["statsd", "dogstatsd"]}
    plain = kitcore.metrics.provider(f"statsd://127.0.0.1:{reader.port}?flush_interval=0")
    plain.close()
    assert isinstance(plain, StatsdProvider)
    with plugins.open("metrics", f"dogstatsd://127.0.0.1:{reader.port}") as d:
        assert isinstance(d, DogStatsdProvider)


# -- values --------------------------------------------------------------------------------


def test_values_that_statsd_cannot_carry(reader: StatsdReader) -> None:
    with StatsdProvider(port=reader.port, flush_interval=None) as provider:
        with pytest.raises(ValueError, match="cannot carry"):
            provider.counter("c").add(float("inf"))
        with pytest.raises(ValueError, match="cannot carry"):
            provider.gauge("g").set(float("nan"))
        provider.histogram("h").observe(1e-7)
        provider.histogram("h").observe(2.0**60)
        assert received(reader, provider) == ["h:1e-07|ms", "h:1.152921504606847e+18|ms"]


def test_line_parsing() -> None:
    assert Line.parse("a.b:1.5|ms|@0.1|#k:v,x:y") == Line(
        "a.b", "1.5", "ms", 0.1, frozenset({"k:v", "x:y"})
    )
    for bad in ("a:1", ":1|c", "a:x|c", "a:1|c|?", "a"):
        with pytest.raises(ValueError):
            Line.parse(bad)


async def test_endpoint_metrics_over_dogstatsd(dog_reader: StatsdReader) -> None:
    from kitcore.metrics import EndpointMetrics

    with DogStatsdProvider(port=dog_reader.port, prefix="svc", tags={"env": "test"}) as provider:
        metrics = EndpointMetrics(provider, namespace="stringsvc")

        async def endpoint(request: str) -> str:
            return request.upper()

        instrumented = metrics.middleware("uppercase")(endpoint)
        for _ in range(3):
            assert await instrumented("a") == "A"
        dog_reader.for_provider(provider).sync()
    labels = {"endpoint": "uppercase", "error": "none"}
    assert dog_reader.counter_value("stringsvc_requests_total", labels) == 3
    assert len(dog_reader.observations("stringsvc_request_duration_seconds", labels)) == 3
    assert dog_reader.gauge_value("stringsvc_requests_in_flight", {"endpoint": "uppercase"}) == 0


# -- Unix datagram socket (DogStatsD's /var/run/datadog/dsd.socket) ------------------------


def test_dogstatsd_over_a_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "dsd.socket")
    with (
        StatsdReader(dogstatsd=True, prefix="svc", socket_path=path) as agent,
        DogStatsdProvider.from_url(f"{agent.url}?prefix=svc&flush_interval=0") as provider,
    ):
        assert provider.sender.address == path
        assert provider.sender.max_datagram == UNIX_DATAGRAM
        provider.counter("requests", "", ("endpoint",)).with_labels(endpoint="up").add(3)
        provider.flush()
        agent.receive(lines=1)
    assert agent.lines == [Line("svc.requests", "3", "c", tags=frozenset({"endpoint:up"}))]


def test_an_agent_that_is_not_there_yet_is_reached_once_it_binds(tmp_path: Path) -> None:
    path = str(tmp_path / "dsd.socket")
    with DogStatsdProvider(socket_path=path, flush_interval=0) as provider:
        counter = provider.counter("requests")
        counter.add()
        provider.flush()  # no socket at the path: dropped, counted, not raised
        assert provider.stats().send_errors == 1
        with StatsdReader(dogstatsd=True, socket_path=path) as agent:
            counter.add(2)
            provider.flush()
            agent.receive(lines=1)
        assert [line.value for line in agent.lines] == ["2"]
        # The agent restarts: gone, then bound again at the same path.
        counter.add(5)
        provider.flush()
        with StatsdReader(dogstatsd=True, socket_path=path) as again:
            counter.add(7)
            provider.flush()
            again.receive(lines=1)
        assert [line.value for line in again.lines] == ["7"]
        stats = provider.stats()
    assert (stats.lines_sent, stats.lines_dropped, stats.send_errors) == (2, 2, 2)


def test_a_unix_socket_url_has_no_host() -> None:
    with pytest.raises(ValueError, match="not a dogstatsd URL"):
        DogStatsdProvider.from_url("dogstatsd://127.0.0.1:8125/var/run/datadog/dsd.socket")
