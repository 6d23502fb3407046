"""Parsing zk:// URLs and options into a ZooKeeperConfig."""

from __future__ import annotations

import pytest
from kazoo.security import make_digest_acl
from kit_zookeeper import ZooKeeperConfig, parse_url

from kitcore.backoff import Backoff


def test_a_full_url() -> None:
    config = parse_url(
        "zk://kit:s3cret@10.0.0.1:2181,10.0.0.2/services/svc?session_timeout=4&connect_timeout=0.5"
    )
    assert config.hosts == (("10.0.0.1", 2181), ("10.0.0.2", 2181))
    assert config.connection_string == "10.0.0.1:2181,10.0.0.2:2181"
    assert config.path == "/services/svc"
    assert (config.username, config.password) == ("kit", "s3cret")
    assert (config.session_timeout, config.connect_timeout) == (4.0, 0.5)


def test_defaults() -> None:
    config = parse_url("zk://127.0.0.1:2181/services/svc/")
    assert config.path == "/services/svc"
    assert (config.session_timeout, config.connect_timeout) == (10.0, 5.0)
    assert config.auth_data == [] and config.acl is None


def test_credentials_become_digest_auth_and_the_nodes_acl() -> None:
    config = parse_url("zk://kit:s3cret@h:1/p")
    assert config.auth_data == [("digest", "kit:s3cret")]
    assert config.acl == [make_digest_acl("kit", "s3cret", all=True)]


def test_ipv6_hosts_are_bracketed_for_kazoo() -> None:
    assert parse_url("zk://[::1]:2181/p").connection_string == "[::1]:2181"


def test_keyword_options_override_the_url() -> None:
    backoff = Backoff(base=0.5, cap=1.0, jitter=False)
    config = parse_url("zk://h:1/p?session_timeout=4", session_timeout=2, backoff=backoff,
                       username="u", password="p")  # fmt: skip
    assert (config.session_timeout, config.username, config.password) == (2.0, "u", "p")
    retry = config.connection_retry()
    assert (retry.max_tries, retry.delay, retry.max_delay, retry.max_jitter) == (-1, 0.5, 1.0, 0)


def test_the_password_never_shows() -> None:
    config = parse_url("zk://kit:s3cret@h:1/services/svc")
    assert "s3cret" not in repr(config)
    assert str(config) == "zk://kit:***@h:1/services/svc"
    with pytest.raises(ValueError) as caught:
        parse_url("zk://kit:s3cret@h:1/services/svc?nope=1")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("zk://h:1", "node path"),
        ("etcd://h:1/p", "not a zk"),
        ("zk://h:1/p?session_timeout=0", "positive"),
        ("zk://h:1/p?connect_timeout=inf", "positive"),
        ("zk://h:1/p?session_timeout=soon", "number"),
        ("zk://h:1/p?colour=blue", "colour"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_url(url)


def test_unknown_keyword_options_and_half_credentials_are_refused() -> None:
    with pytest.raises(ValueError, match="colour"):
        parse_url("zk://h:1/p", colour="blue")
    with pytest.raises(ValueError, match="both"):
        ZooKeeperConfig(hosts=(("h", 1),), path="/p", password="x")
