"""DnsSrvInstancer against a real dnsmasq: records, TTL refresh, failures, conformance."""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, cast

import dns.asyncresolver
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import kit_dnssrv.plugin
import pytest
from kit_dnssrv import DnsSrvInstancer, DnsSrvOptions, SrvLookupError, make_resolver, parse_url
from kit_dnssrv.testing import DnsmasqDriver

from kitcore.backoff import Backoff
from kitcore.plugins import BackendNotFound, load, reset
from kitcore.sd import Event, instancer, registrar
from kitcore.testing.sd import check_instancer, event_where
from kitcore.testing.servers import DnsmasqServer, HostRecord, SrvRecord, dnsmasq_server

SVC = "_http._tcp.svc.local"
FAST = Backoff(base=0.02, cap=0.2)


@pytest.fixture
def dnsmasq() -> Iterator[DnsmasqServer]:
    with dnsmasq_server(ttl=1) as server:
        yield server


def options(server: DnsmasqServer, **kw: Any) -> DnsSrvOptions:
    """Options asking ``server`` about SVC, with short timeouts for tests."""
    values: dict[str, Any] = {"nameserver": server.nameserver, "timeout": 0.5, **kw}
    return parse_url(f"dnssrv://{SVC}", **values)


async def next_event(subscription: AsyncIterator[Event], timeout: float = 5.0) -> Event:
    """The next event, failing the test after ``timeout`` seconds."""
    return await asyncio.wait_for(anext(subscription), timeout)


def assert_no_tasks_left() -> None:
    """Nothing the instancer started is still running."""
    left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert left == []


async def test_instances_are_srv_targets_and_ports(dnsmasq: DnsmasqServer) -> None:
    dnsmasq.set_records(
        [
            SrvRecord(SVC, "a.svc.local", 8001),
            SrvRecord(SVC, "b.svc.local", 8002, priority=10, weight=5),
            SrvRecord("_grpc._tcp.svc.local", "c.svc.local", 9000),
            HostRecord("a.svc.local", "127.0.0.5"),
        ],
        ttl=7,
    )
    watcher = DnsSrvInstancer(options(dnsmasq))
    instances, ttl = await watcher.lookup(make_resolver(watcher.options))
    # Names, not addresses (no trailing dot), whatever the priority and weight.
    assert sorted(instances) == ["a.svc.local:8001", "b.svc.local:8002"]
    assert ttl == 7
    await watcher.close()


async def test_resolve_turns_targets_into_their_addresses(dnsmasq: DnsmasqServer) -> None:
    dnsmasq.set_records(
        [
            SrvRecord(SVC, "a.svc.local", 8001),
            SrvRecord(SVC, "b.svc.local", 8002),
            SrvRecord(SVC, "gone.svc.local", 8003),
            HostRecord("a.svc.local", "127.0.0.5"),
            HostRecord("b.svc.local", "::1"),
        ]
    )
    watcher = DnsSrvInstancer(options(dnsmasq, resolve=True))
    subscription = watcher.subscribe()
    event = await next_event(subscription)
    # A target without any address record contributes nothing.
    assert event == Event(["127.0.0.5:8001", "[::1]:8002"])
    await watcher.close()
    assert_no_tasks_left()


async def test_a_name_without_records_is_an_empty_set_not_an_error(
    dnsmasq: DnsmasqServer,
) -> None:
    dnsmasq.set_records([SrvRecord("_other._tcp.svc.local", "x.svc.local", 1)])
    watcher = DnsSrvInstancer(options(dnsmasq))
    event = await next_event(watcher.subscribe())
    assert event.error is None and event.instances == ()
    # NXDOMAIN and NODATA alike: a name that exists with other types only.
    assert await watcher.lookup(make_resolver(watcher.options)) == ((), 1.0)
    await watcher.close()
    assert_no_tasks_left()


async def test_changed_records_are_picked_up_when_the_ttl_passes(
    dnsmasq: DnsmasqServer,
) -> None:
    dnsmasq.set_records([SrvRecord(SVC, "a.svc.local", 8001)], ttl=1)
    watcher = DnsSrvInstancer(options(dnsmasq), backoff=FAST)
    subscription = watcher.subscribe()
    assert await next_event(subscription) == Event(["a.svc.local:8001"])
    await asyncio.to_thread(
        dnsmasq.set_records, [SrvRecord(SVC, "a.svc.local", 8001), SrvRecord(SVC, "b", 8002)]
    )
    await event_where(subscription, lambda e: e == Event(["a.svc.local:8001", "b:8002"]))
    await watcher.close()
    assert_no_tasks_left()


async def test_max_ttl_caps_a_long_ttl(dnsmasq: DnsmasqServer) -> None:
    # An hour-long TTL would hide the change for an hour; max_ttl bounds the wait.
    dnsmasq.set_records([SrvRecord(SVC, "a", 8001)], ttl=3600)
    watcher = DnsSrvInstancer(options(dnsmasq, min_ttl=0, max_ttl=0.2), backoff=FAST)
    subscription = watcher.subscribe()
    assert await next_event(subscription) == Event(["a:8001"])
    await asyncio.to_thread(dnsmasq.set_records, [SrvRecord(SVC, "b", 8002)])
    await event_where(subscription, lambda e: e == Event(["b:8002"]))
    await watcher.close()


class CountingResolver(dns.asyncresolver.Resolver):
    """A real resolver that counts the lookups made through it."""

    lookups = 0

    async def resolve(self, *args: Any, **kwargs: Any) -> Any:
        """Count, then resolve."""
        self.lookups += 1
        return await super().resolve(*args, **kwargs)


async def test_min_ttl_floors_a_zero_ttl_so_lookups_never_spin(dnsmasq: DnsmasqServer) -> None:
    dnsmasq.set_records([SrvRecord(SVC, "a", 8001)], ttl=0)
    opts = options(dnsmasq, min_ttl=0.2)
    resolver = CountingResolver(configure=False)
    resolver.nameservers = make_resolver(opts).nameservers
    watcher = DnsSrvInstancer(opts, resolver=resolver)
    assert await next_event(watcher.subscribe()) == Event(["a:8001"])
    await asyncio.sleep(1.0)
    await watcher.close()
    # TTL 0 asks to look again at once; the floor makes it about 5 lookups a second.
    assert 2 <= resolver.lookups <= 10, resolver.lookups
    assert_no_tasks_left()


async def test_server_down_is_an_error_keeping_the_last_good_set_then_recovers(
    dnsmasq: DnsmasqServer,
) -> None:
    dnsmasq.set_records([SrvRecord(SVC, "a", 8001), SrvRecord(SVC, "b", 8002)])
    watcher = DnsSrvInstancer(options(dnsmasq, timeout=0.3), backoff=FAST)
    subscription = watcher.subscribe()
    assert await next_event(subscription) == Event(["a:8001", "b:8002"])
    await asyncio.to_thread(dnsmasq.stop)
    down = await event_where(subscription, lambda e: e.error is not None)
    assert down.instances == ("a:8001", "b:8002")
    assert isinstance(down.error, SrvLookupError) and "timed out" in str(down.error)
    # Changed while down: recovery must deliver the current set, not the old one.
    await asyncio.to_thread(dnsmasq.set_records, [SrvRecord(SVC, "c", 8003)])
    await asyncio.to_thread(dnsmasq.start)
    await event_where(subscription, lambda e: e == Event(["c:8003"]))
    await watcher.close()
    assert_no_tasks_left()


class TinyDns(asyncio.DatagramProtocol):
    """A UDP DNS server answering every query with ``answer(query)``, for odd replies."""

    def __init__(self, answer: Callable[[dns.message.Message], dns.message.Message]) -> None:
        self.answer = answer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to reply on."""
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        """Reply to one query."""
        assert self.transport is not None
        self.transport.sendto(self.answer(dns.message.from_wire(data)).to_wire(), addr)


async def tiny_dns(
    answer: Callable[[dns.message.Message], dns.message.Message],
) -> tuple[asyncio.DatagramTransport, str]:
    """Start a TinyDns on 127.0.0.1; its transport (close it) and ``host:port``."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: TinyDns(answer), local_addr=("127.0.0.1", 0)
    )
    host, port = transport.get_extra_info("sockname")[:2]
    return transport, f"{host}:{port}"


def servfail(query: dns.message.Message) -> dns.message.Message:
    """SERVFAIL, as a broken authoritative server or resolver answers."""
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.SERVFAIL)
    return response


def nxdomain_with_soa(query: dns.message.Message) -> dns.message.Message:
    """NXDOMAIN carrying the zone's SOA: negative answers may be cached for its minimum."""
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.NXDOMAIN)
    response.authority.append(
        dns.rrset.from_text(
            "svc.local.", 60, "IN", "SOA", "ns.svc.local. admin.svc.local. 1 60 60 60 30"
        )
    )
    return response


async def test_server_failure_is_an_error_not_an_empty_set() -> None:
    transport, address = await tiny_dns(servfail)
    try:
        watcher = DnsSrvInstancer(parse_url(f"dnssrv://{SVC}?nameserver={address}"))
        event = await next_event(watcher.subscribe())
        assert event.instances == () and isinstance(event.error, SrvLookupError)
        assert "SERVFAIL" in str(event.error)
        await watcher.close()
    finally:
        transport.close()
    assert_no_tasks_left()


async def test_a_negative_answer_is_looked_up_again_after_its_soa_ttl() -> None:
    transport, address = await tiny_dns(nxdomain_with_soa)
    try:
        watcher = DnsSrvInstancer(parse_url(f"dnssrv://{SVC}?nameserver={address}"))
        # RFC 2308: min(SOA TTL 60, SOA minimum 30).
        assert await watcher.lookup(make_resolver(watcher.options)) == ((), 30.0)
        await watcher.close()
    finally:
        transport.close()


async def test_conformance_against_dnsmasq(dnsmasq: DnsmasqServer) -> None:
    driver = DnsmasqDriver(dnsmasq, SVC)
    opts = options(dnsmasq, min_ttl=0.05, timeout=0.3)
    await asyncio.to_thread(dnsmasq.set_records, [], ttl=0)
    await check_instancer(lambda: DnsSrvInstancer(opts, backoff=FAST), driver, timeout=10.0)
    assert_no_tasks_left()


@pytest.fixture
def only_dnssrv() -> Iterator[None]:
    reset(load(entry_points=False, extra=[("kit-dnssrv", kit_dnssrv.plugin)]))
    yield
    reset()


async def test_opened_by_url_and_cannot_register(only_dnssrv: None, dnsmasq: DnsmasqServer) -> None:
    dnsmasq.set_records([SrvRecord(SVC, "a", 8001)])
    opened = instancer(f"dnssrv://{SVC}?nameserver={dnsmasq.nameserver}&timeout=1")
    assert isinstance(opened, DnsSrvInstancer)
    assert await next_event(opened.subscribe()) == Event(["a:8001"])
    await opened.close()
    with pytest.raises(BackendNotFound, match="cannot register"):
        registrar(f"dnssrv://{SVC}", "127.0.0.1:8001")


def test_the_distribution_publishes_its_kit_entry_point() -> None:
    points = importlib.metadata.entry_points(group="kit")
    assert [p.value for p in points if p.name == "kit-dnssrv"] == ["kit_dnssrv.plugin"]
