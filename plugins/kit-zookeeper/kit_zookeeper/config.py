"""ZooKeeperConfig: where ZooKeeper is, who to log in as, and which path holds a service.

One parsed form of ``zk://[user:password@]host:port[,host:port]/path?options`` for both
the Instancer and the Registrar. Keyword options given in code override the URL's, so
a password need not be written into a URL at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from kazoo.retry import KazooRetry  # type: ignore[import-untyped]
from kazoo.security import ACL, make_digest_acl  # type: ignore[import-untyped]

from kitcore.backoff import Backoff
from kitcore.sd import url as sd_url

SCHEME = "zk"
"""The URL scheme this plugin registers."""

DEFAULT_PORT = 2181
"""ZooKeeper's client port, used when a host in the URL has none."""

DEFAULT_BACKOFF = Backoff(base=0.05, cap=5.0)
"""Delays between reconnection attempts: jittered, from 50 ms up to 5 s."""

_URL_OPTIONS = ("session_timeout", "connect_timeout")
_CODE_OPTIONS = (*_URL_OPTIONS, "username", "password", "backoff")


@dataclass(frozen=True)
class ZooKeeperConfig:
    """A parsed ZooKeeper discovery URL; ``repr()`` and ``str()`` never show the password.

    Layout, as Go kit's ``sd/zk``: each instance is a child node of ``path`` (ephemeral,
    sequential) whose data is the instance (``"host:port"``).
    """

    hosts: tuple[tuple[str, int], ...]
    path: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    session_timeout: float = 10.0
    connect_timeout: float = 5.0
    backoff: Backoff = DEFAULT_BACKOFF

    def __post_init__(self) -> None:
        if not self.hosts:
            raise ValueError("zk config names no host")
        if not self.path.startswith("/") or self.path == "/" or self.path.endswith("/"):
            raise ValueError(f"zk path must be a node path like /services/name, got {self.path!r}")
        for name in ("session_timeout", "connect_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"zk {name} must be a positive number of seconds, got {value}")
        if (self.username is None) != (self.password is None):
            raise ValueError("zk credentials need both a user name and a password")

    @property
    def connection_string(self) -> str:
        """``host:port,host:port``, as kazoo takes it."""
        return ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.hosts)

    @property
    def auth_data(self) -> list[tuple[str, str]]:
        """kazoo's ``auth_data``: digest credentials, if any."""
        if self.username is None:
            return []
        return [("digest", f"{self.username}:{self.password}")]

    @property
    def acl(self) -> list[ACL] | None:
        """ACL of the nodes a Registrar creates: all rights to the digest user, or None (open)."""
        if self.username is None:
            return None
        return [make_digest_acl(self.username, self.password, all=True)]

    def connection_retry(self) -> KazooRetry:
        """kazoo's reconnection policy, following ``backoff`` (forever, jittered, capped)."""
        return KazooRetry(
            max_tries=-1,
            delay=max(self.backoff.base, 0.001),
            backoff=self.backoff.factor,
            max_delay=self.backoff.cap,
            max_jitter=0.5 if self.backoff.jitter else 0.0,
        )

    def __str__(self) -> str:
        auth = f"{self.username}:***@" if self.username else ""
        return f"{SCHEME}://{auth}{self.connection_string}{self.path}"


def parse_url(url: str, **options: Any) -> ZooKeeperConfig:
    """Parse ``zk://[user:password@]host:port[,host:port]/path?session_timeout=10``.

    URL options: ``session_timeout`` (seconds, default 10: how long ZooKeeper keeps a
    silent session, and so a dead Registrar's node), ``connect_timeout`` (seconds,
    default 5: how long to wait for a connection before reporting an error). Keyword
    ``options`` take the same names plus ``username``, ``password`` and ``backoff`` (a
    ``kitcore.backoff.Backoff``), and override the URL. Unknown options raise ValueError.
    """
    parsed = sd_url.parse(url, default_port=DEFAULT_PORT)
    if parsed.scheme != SCHEME:
        raise ValueError(f"not a {SCHEME}:// URL: {parsed}")
    unknown = sorted(set(parsed.params) - set(_URL_OPTIONS))
    if unknown:
        raise ValueError(f"{parsed}: unknown option(s) {unknown}; known: {list(_URL_OPTIONS)}")
    unknown = sorted(set(options) - set(_CODE_OPTIONS))
    if unknown:
        raise ValueError(f"zk: unknown keyword option(s) {unknown}; known: {list(_CODE_OPTIONS)}")
    values: dict[str, Any] = {**parsed.params, **options}
    username = values.get("username", parsed.username)
    password = values.get("password", parsed.password)
    if username is not None and password is None:
        password = ""  # the URL form user@host: a digest identity with an empty password
    return ZooKeeperConfig(
        hosts=parsed.hosts,
        path=parsed.path,
        username=username,
        password=password,
        session_timeout=_seconds("session_timeout", values.get("session_timeout", 10.0)),
        connect_timeout=_seconds("connect_timeout", values.get("connect_timeout", 5.0)),
        backoff=values.get("backoff", DEFAULT_BACKOFF),
    )


def _seconds(name: str, value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"zk option {name}={value!r} is not a number of seconds") from None
