"""The dnssrv:// URL: its options, their defaults, and clear errors for malformed ones."""

from __future__ import annotations

import pytest
from kit_dnssrv import DnsSrvOptions, parse_nameserver, parse_url


def test_defaults_and_every_option() -> None:
    assert parse_url("dnssrv://_http._tcp.svc.local") == DnsSrvOptions("_http._tcp.svc.local")
    options = parse_url(
        "dnssrv://_http._tcp.svc.local.?nameserver=127.0.0.1:5353,[::1]:54,10.0.0.2"
        "&min_ttl=0.5&max_ttl=30s&timeout=250ms&resolve=1"
    )
    assert options == DnsSrvOptions(
        name="_http._tcp.svc.local",
        nameservers=(("127.0.0.1", 5353), ("::1", 54), ("10.0.0.2", 53)),
        min_ttl=0.5,
        max_ttl=30.0,
        timeout=0.25,
        resolve=True,
    )


def test_keyword_options_win_over_the_url() -> None:
    options = parse_url(
        "dnssrv://_x._tcp.a?timeout=5&resolve=true",
        timeout=1,
        resolve=False,
        nameserver=["127.0.0.1:1053"],
    )
    assert (options.timeout, options.resolve, options.nameservers) == (
        1.0,
        False,
        (("127.0.0.1", 1053),),
    )


def test_refresh_is_the_ttl_clamped_to_the_bounds() -> None:
    options = DnsSrvOptions("_x._tcp.a", min_ttl=2, max_ttl=60)
    assert [options.refresh_after(t) for t in (0, 2, 30, 60, 3600)] == [2, 2, 30, 60, 60]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("dnssrv://_http._tcp.svc.local:53", "names one SRV record"),
        ("dnssrv://_http._tcp.svc.local/path", "names one SRV record"),
        ("dnssrv://a.local,b.local", "names one SRV record"),
        ("etcd://127.0.0.1:2379/x", "not a dnssrv:// URL"),
        ("dnssrv://_x._tcp.a?ttl=5", "unknown option"),
        ("dnssrv://_x._tcp.a?nameserver=dns.example.com", "must be an IP address"),
        ("dnssrv://_x._tcp.a?nameserver=127.0.0.1:0", "invalid port"),
        ("dnssrv://_x._tcp.a?min_ttl=10&max_ttl=5", "max_ttl must be"),
        ("dnssrv://_x._tcp.a?min_ttl=-1", "min_ttl must be"),
        ("dnssrv://_x._tcp.a?timeout=0", "timeout must be"),
        ("dnssrv://_x._tcp.a?timeout=soon", "number of seconds"),
        ("dnssrv://_x._tcp.a?resolve=maybe", "resolve must be"),
    ],
)
def test_malformed_urls_are_rejected_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_url(url)


def test_nameserver_forms() -> None:
    assert parse_nameserver("10.0.0.1") == ("10.0.0.1", 53)
    assert parse_nameserver(" 10.0.0.1:5353 ") == ("10.0.0.1", 5353)
    assert parse_nameserver("::1") == ("::1", 53)
    assert parse_nameserver("[::1]") == ("::1", 53)
    assert parse_nameserver("[fe80::1]:5353") == ("fe80::1", 5353)
    with pytest.raises(ValueError, match="malformed"):
        parse_nameserver("[::1]x")
