"""kit-etcd: service discovery on etcd v3, through aetcd.

``etcd://[user:password@]host:port[,host:port]/prefix?ttl=10&tls=1&ca=..&cert=..&key=..``
names a service: its instances are the values of the keys under ``prefix/``, one key
``prefix/host:port`` per instance, as Go kit's ``sd/etcdv3`` lays them out. The
Instancer reads the prefix once and then watches it; the Registrar puts its key on a
lease and keeps the lease alive. Open them by URL with ``kitcore.sd.instancer(url)``
and ``kitcore.sd.registrar(url, "host:port")``, or build them here directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kit_etcd.client import EtcdAuthError, EtcdPermissionError
    from kit_etcd.config import EtcdConfig, parse_url
    from kit_etcd.instancer import EtcdInstancer, WatchCanceled
    from kit_etcd.registrar import EtcdRegistrar

__all__ = [
    "EtcdAuthError",
    "EtcdConfig",
    "EtcdInstancer",
    "EtcdPermissionError",
    "EtcdRegistrar",
    "WatchCanceled",
    "parse_url",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "EtcdAuthError": "kit_etcd.client",
        "EtcdPermissionError": "kit_etcd.client",
        "EtcdConfig": "kit_etcd.config",
        "parse_url": "kit_etcd.config",
        "EtcdInstancer": "kit_etcd.instancer",
        "WatchCanceled": "kit_etcd.instancer",
        "EtcdRegistrar": "kit_etcd.registrar",
    },
)
