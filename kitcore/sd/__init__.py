"""Service discovery: where the instances of a service are, and keeping clients in step.

Go kit's ``sd`` package, asyncio-first. An Instancer reports a service's instance sets
as Events; a Registrar announces this instance; a Factory builds a client endpoint for
one instance; an Endpointer keeps those endpoints in step with an Instancer. Backends
(etcd, ZooKeeper, Consul, DNS SRV) live in plugins and build on ``BaseInstancer`` and
``BaseRegistrar``; ``static://`` and ``FixedInstancer`` live here.
"""

from __future__ import annotations

from kitcore.sd.endpointer import Endpointer, FixedEndpointer
from kitcore.sd.event import Event
from kitcore.sd.factory import Closer, Factory, close_quietly
from kitcore.sd.instancer import BaseInstancer, Instancer, Subscription
from kitcore.sd.registrar import BaseRegistrar, Registrar, is_final, register_with_backoff
from kitcore.sd.static import FixedInstancer, parse_static_url, static_instancer

# isort: split
# Last, after the submodules ``instancer`` and ``registrar`` are loaded: importing a
# submodule binds its name on the package, which would hide these two functions.
from kitcore.sd.open import instancer, registrar

__all__ = [
    "BaseInstancer",
    "BaseRegistrar",
    "Closer",
    "Endpointer",
    "Event",
    "Factory",
    "FixedEndpointer",
    "FixedInstancer",
    "Instancer",
    "Registrar",
    "Subscription",
    "close_quietly",
    "instancer",
    "is_final",
    "parse_static_url",
    "register_with_backoff",
    "registrar",
    "static_instancer",
]
