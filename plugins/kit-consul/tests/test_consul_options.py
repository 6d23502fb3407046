"""consul:// URLs and options, Consul's index rules, and reading health entries."""

from __future__ import annotations

import pytest
from kit_consul import (
    SCHEME,
    AgentOptions,
    ConsulInstancer,
    ConsulRegistrar,
    RegisterOptions,
    WatchOptions,
    instances_of,
    next_index,
    split_instance,
)
from kit_consul.index import BACKWARDS, NOT_POSITIVE


def test_instancer_url_with_every_watch_option() -> None:
    opened = ConsulInstancer.from_url(
        "consul://10.0.0.9/stringsvc?tag=v1,eu&passing=0&wait=250ms&dc=dc2&timeout=3s"
    )
    assert opened.agent == AgentOptions(host="10.0.0.9", port=8500, dc="dc2", timeout=3.0)
    assert opened.watch == WatchOptions("stringsvc", tags=("v1", "eu"), passing=False, wait=0.25)
    assert ConsulInstancer.from_url(f"{SCHEME}://h:1/s").watch == WatchOptions("s")


def test_keyword_options_win_over_the_url() -> None:
    opened = ConsulInstancer.from_url(
        "consul://h:8500/s?tag=a&passing=1", tags=["x", "y"], passing=False, wait=2
    )
    assert opened.watch == WatchOptions("s", tags=("x", "y"), passing=False, wait=2.0)


def test_tls_options() -> None:
    opened = ConsulInstancer.from_url(
        "consul://h:8501/s?scheme=https&ca=/etc/ca.pem&cert=/etc/c.pem&key=/etc/k.pem"
    )
    agent = opened.agent
    assert (agent.scheme, agent.ca, agent.cert, agent.key, agent.verify) == (
        "https",
        "/etc/ca.pem",
        "/etc/c.pem",
        "/etc/k.pem",
        True,
    )
    assert ConsulInstancer.from_url("consul://h/s?scheme=https&verify=0").agent.verify is False


def test_the_token_comes_from_the_option_the_url_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "from-env")
    assert ConsulInstancer.from_url("consul://h/s").agent.token == "from-env"
    assert ConsulInstancer.from_url("consul://:from-url@h/s").agent.token == "from-url"
    assert ConsulInstancer.from_url("consul://h/s?token=from-query").agent.token == "from-query"
    assert ConsulInstancer.from_url("consul://h/s?token=q", token="kw").agent.token == "kw"


def test_the_token_never_shows_in_a_repr_or_an_error() -> None:
    opened = ConsulInstancer.from_url("consul://h/s?token=s3cret-token")
    assert "s3cret" not in repr(opened.agent)
    for url in (
        "consul://h:99999/s?token=s3cret-token",
        "consul://h/s?token=s3cret-token&bogus=1",
        "consul://:s3cret-token@h/?x=1",
        "consul://h/a/b?token=s3cret-token",
    ):
        with pytest.raises(ValueError) as caught:
            ConsulInstancer.from_url(url)
        assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("consul://h:8500", "service-name"),
        ("consul://h:8500/a/b", "service-name"),
        ("consul://h1:8500,h2:8500/s", "names one agent"),
        ("etcd://h:2379/s", "not a consul:// URL"),
        ("consul://h/s?tll=5", "unknown option"),
        ("consul://h/s?scheme=ftp", "scheme must be"),
        ("consul://h/s?wait=soon", "wait must be a duration"),
        ("consul://h/s?wait=0", "wait must be > 0"),
        ("consul://h/s?passing=maybe", "passing must be"),
        ("consul://h/s?key=/k.pem", "key= needs cert="),
    ],
)
def test_malformed_instancer_urls_are_rejected(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConsulInstancer.from_url(url)


def test_registrar_url_with_every_registration_option() -> None:
    opened = ConsulRegistrar.from_url(
        "consul://h/stringsvc?tag=v1,eu&id=s-1&meta.version=1.2&meta.zone=a&ttl=6s"
        "&heartbeat=1s&deregister_after=2m",
        "10.0.0.5:8080",
    )
    assert opened.registration == RegisterOptions(
        "stringsvc",
        id="s-1",
        tags=("v1", "eu"),
        meta={"version": "1.2", "zone": "a"},
        ttl=6.0,
        heartbeat=1.0,
        deregister_after=120.0,
    )
    assert (opened.service_id, opened.check_id) == ("s-1", "service:s-1")
    assert opened.check() == {
        "CheckID": "service:s-1",
        "Name": "stringsvc health",
        "DeregisterCriticalServiceAfter": "120s",
        "TTL": "6s",
        "Status": "passing",
    }


def test_registrar_http_check_and_default_id() -> None:
    opened = ConsulRegistrar.from_url(
        "consul://h/svc",
        "[::1]:9000",
        http_check="http://[::1]:9000/health",
        interval=0.5,
        check_timeout=0.25,
        meta={"a": "b"},
    )
    assert opened.service_id == "svc-::1-9000"
    assert opened.check() == {
        "CheckID": "service:svc-::1-9000",
        "Name": "svc health",
        "DeregisterCriticalServiceAfter": "60s",
        "HTTP": "http://[::1]:9000/health",
        "Interval": "500ms",
        "Timeout": "250ms",
    }
    assert opened.registration.meta == {"a": "b"}


def test_registrar_rejects_a_heartbeat_as_long_as_the_ttl_and_bad_instances() -> None:
    with pytest.raises(ValueError, match="heartbeat"):
        ConsulRegistrar.from_url("consul://h/s?ttl=5&heartbeat=5", "h:1")
    for bad in ("h", "h:0", ":80", "::1:80", "h:http"):
        with pytest.raises(ValueError):
            split_instance(bad)
    assert split_instance("[fe80::1]:80") == ("fe80::1", 80)


def test_index_rules_from_consuls_documentation() -> None:
    assert next_index(0, "12") == (12, None)  # first answer
    assert next_index(12, "12") == (12, None)  # wait passed without change
    assert next_index(12, "15") == (15, None)  # a change
    assert next_index(15, "9") == (0, BACKWARDS)  # restore or restart: start over
    assert next_index(15, "0") == (1, NOT_POSITIVE)  # never 0: index 0 does not block
    assert next_index(0, "-3") == (1, NOT_POSITIVE)
    assert next_index(7, None) == (1, NOT_POSITIVE)


def test_instances_use_the_service_address_else_the_node_address() -> None:
    node = {"Address": "10.0.0.1"}
    entries = [
        {"Node": node, "Service": {"Address": "10.0.0.7", "Port": 80}},
        {"Node": node, "Service": {"Address": "", "Port": 81}},
        {"Node": node, "Service": {"Address": "fe80::1", "Port": 82}},
        {"Node": node, "Service": {"Address": "10.0.0.8", "Port": 0}},  # no port: skipped
    ]
    assert instances_of(entries) == ["10.0.0.7:80", "10.0.0.1:81", "[fe80::1]:82"]


def test_one_url_serves_the_registrar_and_the_instancer() -> None:
    url = "consul://h/svc?tag=v1&passing=1&wait=5s&ttl=3s&meta.zone=a"
    assert ConsulInstancer.from_url(url).watch == WatchOptions("svc", tags=("v1",), wait=5.0)
    registration = ConsulRegistrar.from_url(url, "10.0.0.1:80").registration
    assert registration == RegisterOptions("svc", tags=("v1",), ttl=3.0, meta={"zone": "a"})
