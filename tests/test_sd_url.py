from __future__ import annotations

import pytest

from kitcore.sd.url import parse


def test_full_url() -> None:
    u = parse("etcd://root:s3cret@10.0.0.1:2379,10.0.0.2:2380/services/stringsvc?ttl=5&tls=1")
    assert u.scheme == "etcd"
    assert u.hosts == (("10.0.0.1", 2379), ("10.0.0.2", 2380))
    assert (u.host, u.port) == ("10.0.0.1", 2379)
    assert u.path == "/services/stringsvc"
    assert u.params == {"ttl": "5", "tls": "1"}
    assert (u.username, u.password) == ("root", "s3cret")
    assert "s3cret" not in repr(u) and "s3cret" not in str(u)
    assert str(u).startswith("etcd://root:***@10.0.0.1:2379,10.0.0.2:2380/services/stringsvc")


def test_defaults_and_plain_forms() -> None:
    u = parse("consul://127.0.0.1:8500/stringsvc?tag=blue")
    assert u.path == "/stringsvc" and u.params == {"tag": "blue"} and u.username is None
    assert parse("dnssrv://_http._tcp.svc.local", default_port=53).hosts == (
        ("_http._tcp.svc.local", 53),
    )
    assert parse("zk://[::1]:2181/a/").hosts == (("::1", 2181),)
    assert parse("zk://[::1]:2181/a/").path == "/a"


@pytest.mark.parametrize(
    "bad", ["127.0.0.1:2379", "etcd:///x", "etcd://h:99999/x", "etcd://h:abc/x", "etcd://h/x"]
)
def test_bad_urls_say_what_is_wrong(bad: str) -> None:
    with pytest.raises(ValueError, match="discovery URL"):
        parse(bad)


def test_errors_never_show_the_password() -> None:
    with pytest.raises(ValueError) as info:
        parse("etcd://u:topsecret@h:abc/x")
    assert "topsecret" not in str(info.value)
