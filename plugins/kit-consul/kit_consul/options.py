"""The ``consul://`` URL and its options: which agent, which service, how to watch or register.

``consul://127.0.0.1:8500/stringsvc?tag=v1&passing=1&dc=dc1&scheme=https``. Every option
can also be passed as a keyword argument to ``kitcore.sd.instancer(url, ...)`` or
``kitcore.sd.registrar(url, instance, ...)``, which wins over the URL. The ACL token is
taken from ``token=``, from the URL's password (``consul://:TOKEN@host:8500/svc``) or
from ``CONSUL_HTTP_TOKEN``; it is kept out of every ``repr`` and message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from kitcore.sd.url import DiscoveryURL, parse

SCHEME = "consul"
"""The URL scheme of Consul discovery."""

DEFAULT_PORT = 8500
"""The Consul agent's HTTP port."""

AGENT_OPTIONS = ("token", "dc", "scheme", "ca", "verify", "cert", "key", "timeout")
"""Options naming and reaching the agent, for the Instancer and the Registrar alike."""

WATCH_OPTIONS = ("tag", "passing", "wait")
"""Options of the Instancer's health query."""

REGISTER_OPTIONS = (
    "tag",
    "id",
    "meta",
    "ttl",
    "heartbeat",
    "http_check",
    "interval",
    "check_timeout",
    "deregister_after",
)
"""Options of the Registrar's service and check (``meta.<key>=value`` in a URL)."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def seconds(key: str, value: Any) -> float:
    """Seconds from a number or a duration (``"250ms"``, ``"10s"``, ``"1m"``); > 0."""
    if isinstance(value, bool):
        raise ValueError(f"consul: {key} must be a duration, got {value!r}")
    if isinstance(value, (int, float)):
        result = float(value)
    else:
        text = str(value).strip()
        scale = 1.0
        for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
            if text.endswith(suffix):
                text, scale = text[: -len(suffix)], factor
                break
        try:
            result = float(text) * scale
        except ValueError:
            raise ValueError(
                f"consul: {key} must be a duration (e.g. 10s, 250ms), got {value!r}"
            ) from None
    if result <= 0:
        raise ValueError(f"consul: {key} must be > 0, got {value!r}")
    return result


def duration(value: float) -> str:
    """A Go duration string for Consul: whole seconds as ``"10s"``, else milliseconds."""
    if value == int(value):
        return f"{int(value)}s"
    return f"{max(1, round(value * 1000))}ms"


def flag(key: str, value: Any) -> bool:
    """A boolean option: ``1/0``, ``true/false``, ``yes/no``, ``on/off``."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"consul: {key} must be 1 or 0 (true/false), got {value!r}")


def _tags(value: Any) -> tuple[str, ...]:
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    return tuple(str(t).strip() for t in items if str(t).strip())


@dataclass(frozen=True)
class AgentOptions:
    """How to reach one Consul agent: address, scheme, TLS, datacenter and ACL token."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    scheme: str = "http"
    token: str | None = field(default=None, repr=False)
    dc: str | None = None
    ca: str | None = None
    verify: bool = True
    cert: str | None = None
    key: str | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.scheme not in ("http", "https"):
            raise ValueError(f"consul: scheme must be http or https, got {self.scheme!r}")
        if self.key and not self.cert:
            raise ValueError("consul: key= needs cert= (the client certificate)")

    @property
    def address(self) -> str:
        """``host:port`` of the agent, for messages (never the token)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class WatchOptions:
    """What the Instancer asks for: a service's instances, filtered by tags and health."""

    service: str
    tags: tuple[str, ...] = ()
    passing: bool = True
    wait: float = 60.0


@dataclass(frozen=True)
class RegisterOptions:
    """The service and health check the Registrar puts on the agent.

    With ``http_check`` the agent polls that URL every ``interval``; otherwise a TTL
    check of ``ttl`` is kept passing every ``heartbeat`` (a third of the TTL by default).
    A check critical for ``deregister_after`` removes the service, so a killed process
    does not linger (Consul enforces at least a minute).
    """

    service: str
    id: str | None = None
    tags: tuple[str, ...] = ()
    meta: Mapping[str, str] = field(default_factory=dict)
    ttl: float = 10.0
    heartbeat: float | None = None
    http_check: str | None = None
    interval: float = 10.0
    check_timeout: float = 5.0
    deregister_after: float = 60.0

    def __post_init__(self) -> None:
        if self.heartbeat is not None and self.heartbeat >= self.ttl:
            raise ValueError(
                f"consul: heartbeat ({self.heartbeat}s) must be shorter than ttl ({self.ttl}s)"
            )

    @property
    def beat(self) -> float:
        """Seconds between two TTL passes."""
        return self.heartbeat if self.heartbeat is not None else self.ttl / 3


@dataclass(frozen=True)
class ParsedURL:
    """A ``consul://`` URL split into the agent, the service name and the other options."""

    agent: AgentOptions
    service: str
    options: dict[str, Any]


def _split_token(url: str) -> tuple[str, str | None]:
    """``url`` without its ``token=`` query parameter, and that token: so no message shows it."""
    base, sep, query = url.partition("?")
    if not sep:
        return url, None
    pairs = parse_qsl(query, keep_blank_values=True)
    token = next((v for k, v in pairs if k == "token"), None)
    rest = urlencode([(k, v) for k, v in pairs if k != "token"])
    return (f"{base}?{rest}" if rest else base), token


def _where(parsed: DiscoveryURL) -> str:
    """The URL without credentials or options, for error messages."""
    return f"{parsed.scheme}://{','.join(f'{h}:{p}' for h, p in parsed.hosts)}{parsed.path}"


def parse_url(url: str, overrides: Mapping[str, Any]) -> ParsedURL:
    """Parse ``url``; agent options are resolved, the others are returned as given.

    Watch and registration options are all accepted, whichever side opens the URL, so
    one URL can configure a service's registrar and its clients' instancers alike;
    a name neither knows is an error.
    """
    url, url_token = _split_token(url)
    parsed = parse(url, default_port=DEFAULT_PORT)
    if parsed.scheme != SCHEME:
        raise ValueError(f"not a {SCHEME}:// URL: {_where(parsed)}")
    if len(parsed.hosts) != 1:
        raise ValueError(f"{_where(parsed)}: a {SCHEME}:// URL names one agent (the local one)")
    service = parsed.path.lstrip("/")
    if not service or "/" in service:
        raise ValueError(f"{_where(parsed)}: expected {SCHEME}://host:port/service-name")
    values: dict[str, Any] = {**parsed.params, **overrides}
    if "tags" in values:
        values["tag"] = values.pop("tags")
    meta = {k[5:]: str(values.pop(k)) for k in list(values) if k.startswith("meta.")}
    if meta:
        values["meta"] = {**meta, **dict(values.get("meta") or {})}
    known = {*AGENT_OPTIONS, *WATCH_OPTIONS, *REGISTER_OPTIONS}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"consul: unknown option(s) {unknown}; known: {sorted(known)}")
    token = (
        values.pop("token", None)
        or url_token
        or parsed.password
        or os.environ.get("CONSUL_HTTP_TOKEN")
    )
    agent = AgentOptions(
        host=parsed.host,
        port=parsed.port,
        scheme=str(values.pop("scheme", "http")),
        token=str(token) if token else None,
        dc=_text(values.pop("dc", None)),
        ca=_text(values.pop("ca", None)),
        verify=flag("verify", values.pop("verify", True)),
        cert=_text(values.pop("cert", None)),
        key=_text(values.pop("key", None)),
        timeout=seconds("timeout", values.pop("timeout", 10.0)),
    )
    return ParsedURL(agent, service, values)


def _text(value: Any) -> str | None:
    return str(value) if value else None


def watch_options(service: str, values: Mapping[str, Any]) -> WatchOptions:
    """WatchOptions for ``service`` from the option values ``parse_url`` left."""
    return WatchOptions(
        service=service,
        tags=_tags(values.get("tag", ())),
        passing=flag("passing", values.get("passing", True)),
        wait=seconds("wait", values.get("wait", 60.0)),
    )


def register_options(service: str, values: Mapping[str, Any]) -> RegisterOptions:
    """RegisterOptions for ``service`` from the option values ``parse_url`` left."""
    kwargs: dict[str, Any] = {"service": service, "tags": _tags(values.get("tag", ()))}
    if values.get("id"):
        kwargs["id"] = str(values["id"])
    if values.get("meta"):
        kwargs["meta"] = {str(k): str(v) for k, v in dict(values["meta"]).items()}
    if values.get("http_check"):
        kwargs["http_check"] = str(values["http_check"])
    for key in ("ttl", "heartbeat", "interval", "check_timeout", "deregister_after"):
        if values.get(key) is not None:
            kwargs[key] = seconds(key, values[key])
    return RegisterOptions(**kwargs)
