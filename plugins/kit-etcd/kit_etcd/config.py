"""EtcdConfig: where etcd is, how to log in, and which key prefix holds a service.

One parsed form of ``etcd://[user:password@]host:port[,host:port]/prefix?options`` for
both the Instancer and the Registrar. Keyword options given in code override the URL's,
so a password need not be written into a URL at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from kitcore.backoff import Backoff
from kitcore.sd import url as sd_url

SCHEME = "etcd"
"""The URL scheme this plugin registers."""

DEFAULT_PORT = 2379
"""etcd's client port, used when a host in the URL has none."""

DEFAULT_BACKOFF = Backoff(base=0.05, cap=5.0)
"""Delays between reconnection attempts: jittered, from 50 ms up to 5 s."""

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_URL_OPTIONS = ("ttl", "timeout", "tls", "ca", "cert", "key")
_CODE_OPTIONS = (*_URL_OPTIONS, "username", "password", "backoff")


@dataclass(frozen=True)
class EtcdConfig:
    """A parsed etcd discovery URL; ``repr()`` and ``str()`` never show the password.

    Layout, as Go kit's ``sd/etcdv3``: each instance is the key ``prefix + "/" +
    instance`` whose value is the instance (``"host:port"``); the Instancer reports the
    values of every key under ``prefix + "/"``.
    """

    hosts: tuple[tuple[str, int], ...]
    prefix: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ttl: int = 10
    timeout: float = 5.0
    tls: bool = False
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    backoff: Backoff = DEFAULT_BACKOFF

    def __post_init__(self) -> None:
        if not self.hosts:
            raise ValueError("etcd config names no host")
        if not self.prefix.startswith("/") or self.prefix == "/":
            raise ValueError(f"etcd prefix must be a path like /services/name, got {self.prefix!r}")
        if self.ttl < 1:
            raise ValueError(f"etcd ttl must be >= 1 second, got {self.ttl}")
        if not self.timeout > 0:
            raise ValueError(f"etcd timeout must be > 0 seconds, got {self.timeout}")
        if (self.username is None) != (self.password is None):
            raise ValueError("etcd credentials need both a user name and a password")
        if (self.cert is None) != (self.key is None):
            raise ValueError("etcd client certificate needs both cert= and key=")

    @property
    def key_prefix(self) -> bytes:
        """The key prefix watched: ``prefix + "/"``, so ``/svc`` does not match ``/svc2``."""
        return (self.prefix + "/").encode()

    def instance_key(self, instance: str) -> bytes:
        """The key an instance is registered under."""
        return self.key_prefix + instance.encode()

    @property
    def secure(self) -> bool:
        """True when the connection uses TLS (``tls=1``, or any of ``ca``, ``cert``, ``key``)."""
        return self.tls or self.ca is not None or self.cert is not None

    def __str__(self) -> str:
        auth = f"{self.username}:***@" if self.username else ""
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.hosts)
        return f"{SCHEME}://{auth}{hosts}{self.prefix}"


def parse_url(url: str, **options: Any) -> EtcdConfig:
    """Parse ``etcd://[user:password@]host:port[,host:port]/prefix?ttl=..&tls=..&ca=..``.

    URL options: ``ttl`` (Registrar lease, seconds, default 10), ``timeout`` (per request,
    seconds, default 5), ``tls`` (1 to use TLS with the system's CAs), ``ca``, ``cert``,
    ``key`` (PEM file paths; any of them turns TLS on). Keyword ``options`` take the same
    names plus ``username``, ``password`` and ``backoff`` (a ``kitcore.backoff.Backoff``),
    and override the URL. Unknown options raise ValueError.
    """
    parsed = sd_url.parse(url, default_port=DEFAULT_PORT)
    if parsed.scheme != SCHEME:
        raise ValueError(f"not an {SCHEME}:// URL: {parsed}")
    unknown = sorted(set(parsed.params) - set(_URL_OPTIONS))
    if unknown:
        raise ValueError(f"{parsed}: unknown option(s) {unknown}; known: {list(_URL_OPTIONS)}")
    unknown = sorted(set(options) - set(_CODE_OPTIONS))
    if unknown:
        raise ValueError(f"etcd: unknown keyword option(s) {unknown}; known: {list(_CODE_OPTIONS)}")
    values: dict[str, Any] = {**parsed.params, **options}
    username = values.get("username", parsed.username)
    password = values.get("password", parsed.password)
    if username is not None and password is None:
        password = ""  # etcd accepts an empty password; the URL form user@host means that
    return EtcdConfig(
        hosts=parsed.hosts,
        prefix=parsed.path,
        username=username,
        password=password,
        ttl=_integer("ttl", values.get("ttl", 10)),
        timeout=_number("timeout", values.get("timeout", 5.0)),
        tls=_flag("tls", values.get("tls", False)),
        ca=values.get("ca") or None,
        cert=values.get("cert") or None,
        key=values.get("key") or None,
        backoff=values.get("backoff", DEFAULT_BACKOFF),
    )


def _flag(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"etcd option {name}={value!r} is not a boolean (use 1 or 0)")


def _number(name: str, value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"etcd option {name}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"etcd option {name}={value!r} is not a finite number")
    return number


def _integer(name: str, value: object) -> int:
    number = _number(name, value)
    if number != int(number):
        raise ValueError(f"etcd option {name}={value!r} is not a whole number")
    return int(number)
