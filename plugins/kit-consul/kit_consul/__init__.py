"""kit-consul: service discovery and registration with HashiCorp Consul, for kit.

``kitcore.sd.instancer("consul://127.0.0.1:8500/stringsvc")`` follows a service's
healthy instances with Consul's blocking queries (one long-poll at a time, backing off
on errors and on anomalous indexes, never spinning); ``kitcore.sd.registrar(url,
"10.0.0.5:8080")`` registers this instance with the local agent under a TTL check it
keeps passing (or an HTTP check), so a crashed process drops out by itself. An ACL
refusal (an unknown token, a token without the permission) is final: ``ConsulAuthError``
or ``ConsulPermissionError``, which ``kitcore.sd.is_final`` recognises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kit_consul.client import (
        ConsulAuthError,
        ConsulError,
        ConsulPermissionError,
        make_client,
    )
    from kit_consul.index import next_index
    from kit_consul.instancer import ConsulInstancer, instances_of
    from kit_consul.options import SCHEME, AgentOptions, RegisterOptions, WatchOptions, parse_url
    from kit_consul.registrar import ConsulRegistrar, split_instance

__all__ = [
    "SCHEME",
    "AgentOptions",
    "ConsulAuthError",
    "ConsulError",
    "ConsulInstancer",
    "ConsulPermissionError",
    "ConsulRegistrar",
    "RegisterOptions",
    "WatchOptions",
    "instances_of",
    "make_client",
    "next_index",
    "parse_url",
    "split_instance",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ConsulAuthError": "kit_consul.client",
        "ConsulError": "kit_consul.client",
        "ConsulPermissionError": "kit_consul.client",
        "make_client": "kit_consul.client",
        "next_index": "kit_consul.index",
        "ConsulInstancer": "kit_consul.instancer",
        "instances_of": "kit_consul.instancer",
        "SCHEME": "kit_consul.options",
        "AgentOptions": "kit_consul.options",
        "RegisterOptions": "kit_consul.options",
        "WatchOptions": "kit_consul.options",
        "parse_url": "kit_consul.options",
        "ConsulRegistrar": "kit_consul.registrar",
        "split_instance": "kit_consul.registrar",
    },
)
