"""The ``dnssrv://`` URL and its options: which SRV name, which nameservers, how often to look.

``dnssrv://_http._tcp.stringsvc.local?nameserver=127.0.0.1:5353&min_ttl=1&max_ttl=300``.
Every URL option can also be passed as a keyword argument, which wins over the URL.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kitcore.sd.url import parse

SCHEME = "dnssrv"
"""The URL scheme of DNS SRV discovery."""

DNS_PORT = 53
"""The port of a nameserver given without one."""

OPTIONS = ("nameserver", "min_ttl", "max_ttl", "timeout", "resolve")
"""The options a ``dnssrv://`` URL (or keyword arguments) may carry."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class DnsSrvOptions:
    """What a DnsSrvInstancer looks up, where, and how often.

    ``nameservers`` empty means the system's resolver configuration (/etc/resolv.conf).
    The records' TTL, clamped to ``[min_ttl, max_ttl]``, sets when to look again;
    ``timeout`` bounds one whole lookup; ``resolve`` turns SRV targets into addresses.
    """

    name: str
    nameservers: tuple[tuple[str, int], ...] = ()
    min_ttl: float = 1.0
    max_ttl: float = 300.0
    timeout: float = 2.0
    resolve: bool = False

    def __post_init__(self) -> None:
        if not self.name or any(c.isspace() or c in "/?#@:" for c in self.name):
            raise ValueError(f"dnssrv: {self.name!r} is not a DNS name (e.g. _http._tcp.svc.local)")
        if self.min_ttl < 0:
            raise ValueError(f"dnssrv: min_ttl must be >= 0, got {self.min_ttl}")
        if self.max_ttl <= 0 or self.max_ttl < self.min_ttl:
            raise ValueError(
                f"dnssrv: max_ttl must be > 0 and >= min_ttl, got {self.max_ttl} < {self.min_ttl}"
            )
        if self.timeout <= 0:
            raise ValueError(f"dnssrv: timeout must be > 0, got {self.timeout}")

    def refresh_after(self, ttl: float) -> float:
        """Seconds until the next lookup for records of ``ttl`` seconds: clamped to the bounds."""
        return min(self.max_ttl, max(self.min_ttl, ttl))


def parse_nameserver(text: str) -> tuple[str, int]:
    """Parse ``ip``, ``ip:port``, ``[ipv6]:port`` or a bare IPv6 address; port 53 by default."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ValueError(f"dnssrv: nameserver {text!r} is malformed")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"dnssrv: nameserver {text!r} must be an IP address (optionally with :port)"
        ) from None
    if not port:
        return host, DNS_PORT
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"dnssrv: nameserver {text!r} has an invalid port")
    return host, int(port)


def _seconds(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"dnssrv: {key} must be a number of seconds, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    scale = 1.0
    if text.endswith("ms"):
        text, scale = text[:-2], 0.001
    elif text.endswith("s"):
        text = text[:-1]
    try:
        return float(text) * scale
    except ValueError:
        raise ValueError(f"dnssrv: {key} must be a number of seconds, got {value!r}") from None


def _flag(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"dnssrv: {key} must be 1/0 (true/false), got {value!r}")


def _nameservers(value: Any) -> tuple[tuple[str, int], ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(parse_nameserver(str(item)) for item in items if str(item).strip())


def parse_url(url: str, **overrides: Any) -> DnsSrvOptions:
    """Parse a ``dnssrv://`` URL; keyword ``overrides`` (same names) win over its query."""
    parsed = parse(url, default_port=0)
    if parsed.scheme != SCHEME:
        raise ValueError(f"not a {SCHEME}:// URL: {url!r}")
    if len(parsed.hosts) != 1 or parsed.port != 0 or parsed.path or parsed.username:
        raise ValueError(
            f"{url!r}: a {SCHEME}:// URL names one SRV record, e.g. "
            f"{SCHEME}://_http._tcp.svc.local?nameserver=10.0.0.2:53"
        )
    values: dict[str, Any] = {**parsed.params, **overrides}
    return options_from(parsed.host, values)


def options_from(name: str, values: Mapping[str, Any]) -> DnsSrvOptions:
    """Build DnsSrvOptions for the SRV ``name`` from option values; unknown keys are errors."""
    unknown = sorted(set(values) - set(OPTIONS))
    if unknown:
        raise ValueError(f"dnssrv: unknown option(s) {unknown}; known: {list(OPTIONS)}")
    kwargs: dict[str, Any] = {"name": name.rstrip(".")}
    if "nameserver" in values:
        kwargs["nameservers"] = _nameservers(values["nameserver"])
    for key in ("min_ttl", "max_ttl", "timeout"):
        if key in values:
            kwargs[key] = _seconds(key, values[key])
    if "resolve" in values:
        kwargs["resolve"] = _flag("resolve", values["resolve"])
    return DnsSrvOptions(**kwargs)
