"""Fixed instance sets: ``FixedInstancer`` and the ``static://h1:p1,h2:p2`` URL form.

For tests, development, and deployments where the instances are known up front.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kitcore.sd.event import Event
from kitcore.sd.instancer import BaseInstancer

SCHEME = "static"
"""The URL scheme of fixed instance lists."""


class FixedInstancer(BaseInstancer):
    """An Instancer with one event that never changes."""

    def __init__(self, instances: Iterable[str]) -> None:
        super().__init__()
        self.update(Event(instances))


def parse_static_url(url: str) -> tuple[str, ...]:
    """Return the sorted instances of ``static://h1:p1,h2:p2``; raise ValueError if malformed."""
    prefix = f"{SCHEME}://"
    if not url.startswith(prefix):
        raise ValueError(f"not a {SCHEME}:// URL: {url!r} (expected {SCHEME}://host:port,...)")
    body = url[len(prefix) :].rstrip("/")
    if not body.strip():
        raise ValueError(f"{url!r} lists no instances (expected {SCHEME}://host:port,...)")
    instances = []
    for raw in body.split(","):
        instance = raw.strip()
        _check_host_port(instance, url)
        instances.append(instance)
    return Event(instances).instances


def _check_host_port(instance: str, url: str) -> None:
    host, sep, port = instance.rpartition(":")
    if not sep or not host or not port:
        raise ValueError(f"{url!r}: instance {instance!r} is not host:port")
    if host.startswith("["):
        if not host.endswith("]") or len(host) < 3:
            raise ValueError(f"{url!r}: instance {instance!r} has a malformed IPv6 address")
    elif ":" in host:
        raise ValueError(f"{url!r}: IPv6 address in {instance!r} must be in brackets: [addr]:port")
    if any(c.isspace() or c in "/?#@" for c in host):
        raise ValueError(f"{url!r}: instance {instance!r} has an invalid host")
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{url!r}: instance {instance!r} has an invalid port {port!r}")


def static_instancer(url: str, **options: Any) -> FixedInstancer:
    """Open ``static://h1:p1,h2:p2`` as a FixedInstancer; it takes no options."""
    if options:
        raise ValueError(f"{SCHEME}:// takes no options, got {sorted(options)}")
    return FixedInstancer(parse_static_url(url))
