from __future__ import annotations

import asyncio

import pytest

from kitcore.sd import Event, FixedInstancer, parse_static_url, static_instancer


async def test_fixed_instancer_has_one_event_that_never_changes() -> None:
    instancer = FixedInstancer(["b:2", "a:1", "a:1"])
    subscription = instancer.subscribe()
    assert await subscription.__anext__() == Event(["a:1", "b:2"])
    waiting = asyncio.ensure_future(subscription.__anext__())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()
    await instancer.close()
    with pytest.raises(StopAsyncIteration):
        await waiting


async def test_static_url_opens_a_fixed_instancer() -> None:
    instancer = static_instancer("static://h2:8002,h1:8001")
    assert await instancer.subscribe().__anext__() == Event(["h1:8001", "h2:8002"])
    await instancer.close()


@pytest.mark.parametrize(
    ("url", "instances"),
    [
        ("static://h1:8001", ("h1:8001",)),
        ("static://h1:8001, h2:8002/", ("h1:8001", "h2:8002")),
        ("static://[::1]:8080,127.0.0.1:80", ("127.0.0.1:80", "[::1]:8080")),
        ("static://svc.example.com:65535", ("svc.example.com:65535",)),
    ],
)
def test_valid_static_urls(url: str, instances: tuple[str, ...]) -> None:
    assert parse_static_url(url) == instances


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://h1:8001", "not a static:// URL"),
        ("static://", "lists no instances"),
        ("static://h1", "not host:port"),
        ("static://h1:8001,,h2:8002", "not host:port"),
        ("static://:8001", "not host:port"),
        ("static://h1:", "not host:port"),
        ("static://h1:0", "invalid port"),
        ("static://h1:65536", "invalid port"),
        ("static://h1:http", "invalid port"),
        ("static://::1:8080", "must be in brackets"),
        ("static://[::1:8080", "malformed IPv6"),
        ("static://h1/x:8001", "invalid host"),
    ],
)
def test_malformed_static_urls_say_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_static_url(url)


def test_static_instancer_takes_no_options() -> None:
    with pytest.raises(ValueError, match="takes no options"):
        static_instancer("static://h1:8001", ttl=3)
