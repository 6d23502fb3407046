"""The kit plugin entry point: registers ``dnssrv://`` discovery (an Instancer, no Registrar).

dnspython is imported only when a ``dnssrv://`` URL is opened, so listing plugins stays cheap.
"""

from __future__ import annotations

from typing import Any

from kit_dnssrv.options import SCHEME
from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register


def open_instancer(url: str, **options: Any) -> Any:
    """Open ``dnssrv://_service._proto.name?nameserver=...`` as a DnsSrvInstancer."""
    from kit_dnssrv.instancer import DnsSrvInstancer

    return DnsSrvInstancer.from_url(url, **options)


@hookimpl
def kit_register_discovery(register: Register) -> None:
    """Register ``dnssrv://``; DNS has no registration, so no registrar is given."""
    register(SCHEME, open_instancer, description="DNS SRV records (dnspython), read-only")
