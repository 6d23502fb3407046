"""kit-dnssrv: service discovery from DNS SRV records, for kit's load balancers.

Where a platform publishes its services in DNS (Kubernetes headless services, Consul's
DNS interface, a hand-kept zone), ``kitcore.sd.instancer("dnssrv://_http._tcp.svc.local")``
follows the SRV records: it looks them up again when their TTL passes, reports an empty
set for a name without records, and keeps the last good set while DNS is failing. DNS
has no registration, so there is no Registrar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kit_dnssrv.instancer import DnsSrvInstancer, SrvLookupError, make_resolver
    from kit_dnssrv.options import SCHEME, DnsSrvOptions, parse_nameserver, parse_url

__all__ = [
    "SCHEME",
    "DnsSrvInstancer",
    "DnsSrvOptions",
    "SrvLookupError",
    "make_resolver",
    "parse_nameserver",
    "parse_url",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DnsSrvInstancer": "kit_dnssrv.instancer",
        "SrvLookupError": "kit_dnssrv.instancer",
        "make_resolver": "kit_dnssrv.instancer",
        "SCHEME": "kit_dnssrv.options",
        "DnsSrvOptions": "kit_dnssrv.options",
        "parse_nameserver": "kit_dnssrv.options",
        "parse_url": "kit_dnssrv.options",
    },
)
