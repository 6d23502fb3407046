"""kit-consul: service discovery and registration with HashiCorp Consul, for kit.

``kitcore.sd.instancer("consul://127.0.0.1:8500/stringsvc")`` follows a service's
healthy instances with Consul's blocking queries (one long-poll at a time, backing off
on errors and on anomalous indexes, never spinning); ``kitcore.sd.registrar(url,
"10.0.0.5:8080")`` registers this instance with the local agent under a TTL check it
keeps passing (or an HTTP check), so a crashed process drops out by itself.
"""

from __future__ import annotations

from kit_consul.client import ConsulError, make_client
from kit_consul.index import next_index
from kit_consul.instancer import ConsulInstancer, instances_of
from kit_consul.options import SCHEME, AgentOptions, RegisterOptions, WatchOptions, parse_url
from kit_consul.registrar import ConsulRegistrar, split_instance

__all__ = [
    "SCHEME",
    "AgentOptions",
    "ConsulError",
    "ConsulInstancer",
    "ConsulRegistrar",
    "RegisterOptions",
    "WatchOptions",
    "instances_of",
    "make_client",
    "next_index",
    "parse_url",
    "split_instance",
]
