"""Parsing discovery URLs: ``scheme://[user:password@]host:port[,host:port]/path?key=value``.

One parser for every discovery plugin, so that credentials, several hosts and options
read the same whatever the backend. Credentials are kept out of ``repr`` so they are
never logged by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote


@dataclass(frozen=True)
class DiscoveryURL:
    """A parsed discovery URL; ``str()`` and ``repr()`` hide the password."""

    scheme: str
    hosts: tuple[tuple[str, int], ...]
    path: str = ""
    params: dict[str, str] = field(default_factory=dict)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        """The first host."""
        return self.hosts[0][0]

    @property
    def port(self) -> int:
        """The first host's port."""
        return self.hosts[0][1]

    def __str__(self) -> str:
        auth = f"{self.username}:***@" if self.username else ""
        hosts = ",".join(f"{h}:{p}" for h, p in self.hosts)
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.scheme}://{auth}{hosts}{self.path}" + (f"?{query}" if query else "")


def parse(url: str, *, default_port: int | None = None) -> DiscoveryURL:
    """Parse a discovery URL; raise ValueError naming what is wrong with it."""
    if "://" not in url:
        raise ValueError(f"discovery URL {url!r} has no scheme (expected scheme://host:port/path)")
    scheme, rest = url.split("://", 1)
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    username = password = None
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        user, _, secret = auth.partition(":")
        username, password = unquote(user), (unquote(secret) if secret else None)
    hosts = []
    for part in filter(None, netloc.split(",")):
        host, port = _split_host_port(part)
        if not port:
            if default_port is None:
                raise ValueError(f"discovery URL {_safe(url)!r}: {part!r} has no port")
            hosts.append((host, default_port))
            continue
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"discovery URL {_safe(url)!r}: bad port in {part!r}")
        hosts.append((host or "127.0.0.1", int(port)))
    if not hosts:
        raise ValueError(f"discovery URL {_safe(url)!r} names no host")
    return DiscoveryURL(
        scheme=scheme,
        hosts=tuple(hosts),
        path=(slash + path).rstrip("/") if path else "",
        params=dict(parse_qsl(query, keep_blank_values=True)),
        username=username,
        password=password,
    )


def _split_host_port(part: str) -> tuple[str, str]:
    """Split ``host:port`` or ``[v6]:port``; the port is "" when there is none."""
    if part.startswith("["):
        host, _, rest = part[1:].partition("]")
        return host, rest.removeprefix(":")
    host, _, port = part.rpartition(":")
    return (host, port) if host else (part, "")


def _safe(url: str) -> str:
    """The URL with any password masked, for error messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    auth, _, tail = rest.partition("@")
    user = auth.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}"
