"""Parsing etcd:// URLs and options into an EtcdConfig."""

from __future__ import annotations

import pytest
from kit_etcd import EtcdConfig, parse_url

from kitcore.backoff import Backoff


def test_a_full_url_with_every_option() -> None:
    config = parse_url(
        "etcd://kit:s3cret@10.0.0.1:2379,10.0.0.2/services/svc?ttl=3&timeout=1.5"
        "&tls=1&ca=/ca.pem&cert=/c.pem&key=/c.key"
    )
    assert config.hosts == (("10.0.0.1", 2379), ("10.0.0.2", 2379))
    assert config.prefix == "/services/svc"
    assert (config.username, config.password) == ("kit", "s3cret")
    assert (config.ttl, config.timeout) == (3, 1.5)
    assert (config.tls, config.ca, config.cert, config.key) == (True, "/ca.pem", "/c.pem", "/c.key")
    assert config.secure


def test_defaults_and_the_key_layout_of_go_kit() -> None:
    config = parse_url("etcd://127.0.0.1:2379/services/svc/")
    assert (config.ttl, config.timeout, config.secure, config.username) == (10, 5.0, False, None)
    assert config.key_prefix == b"/services/svc/"
    assert config.instance_key("10.0.0.1:80") == b"/services/svc/10.0.0.1:80"


def test_a_ca_alone_turns_tls_on() -> None:
    assert parse_url("etcd://h:1/p?ca=/ca.pem").secure
    assert not parse_url("etcd://h:1/p?tls=0").secure


def test_keyword_options_override_the_url() -> None:
    backoff = Backoff(base=1.0, cap=2.0)
    config = parse_url(
        "etcd://u:p@h:1/p?ttl=5", ttl=7, username="other", password="pw", backoff=backoff
    )
    assert (config.ttl, config.username, config.password, config.backoff) == (
        7,
        "other",
        "pw",
        backoff,
    )


def test_the_password_never_shows() -> None:
    config = parse_url("etcd://kit:s3cret@h:1/services/svc")
    assert "s3cret" not in repr(config)
    assert "s3cret" not in str(config)
    assert str(config) == "etcd://kit:***@h:1/services/svc"
    with pytest.raises(ValueError) as caught:
        parse_url("etcd://kit:s3cret@h:1/services/svc?nope=1")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("etcd://h:1", "prefix"),
        ("etcd://h:1/", "prefix"),
        ("consul://h:1/p", "not an etcd"),
        ("etcd://h:1/p?ttl=0", "ttl"),
        ("etcd://h:1/p?ttl=1.5", "whole"),
        ("etcd://h:1/p?timeout=soon", "number"),
        ("etcd://h:1/p?timeout=nan", "finite"),
        ("etcd://h:1/p?tls=maybe", "boolean"),
        ("etcd://h:1/p?cert=/c.pem", "cert= and key="),
        ("etcd://h:1/p?ttl=1&colour=blue", "colour"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_url(url)


def test_unknown_keyword_options_are_refused() -> None:
    with pytest.raises(ValueError, match="colour"):
        parse_url("etcd://h:1/p", colour="blue")


def test_a_user_without_password_means_an_empty_password() -> None:
    assert parse_url("etcd://kit@h:1/p").password == ""
    with pytest.raises(ValueError, match="both"):
        EtcdConfig(hosts=(("h", 1),), prefix="/p", username="kit")
