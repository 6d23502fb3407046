"""kit-zookeeper: service discovery on ZooKeeper, through kazoo.

``zk://[user:password@]host:port[,host:port]/path?session_timeout=10`` names a service:
its instances are the children of ``path``, ephemeral sequential nodes whose data is
the instance (``"host:port"``), as Go kit's ``sd/zk`` lays them out. The Instancer
watches the children; the Registrar creates the node and recreates it after a session
expiry. kazoo is thread-based; everything here hands its results and events to the
asyncio loop and never blocks it. Open them by URL with ``kitcore.sd.instancer(url)``
and ``kitcore.sd.registrar(url, "host:port")``, or build them here directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kit_zookeeper.config import ZooKeeperConfig, parse_url
    from kit_zookeeper.instancer import ZooKeeperInstancer
    from kit_zookeeper.registrar import ZooKeeperRegistrar
    from kit_zookeeper.session import Session

__all__ = ["Session", "ZooKeeperConfig", "ZooKeeperInstancer", "ZooKeeperRegistrar", "parse_url"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ZooKeeperConfig": "kit_zookeeper.config",
        "parse_url": "kit_zookeeper.config",
        "ZooKeeperInstancer": "kit_zookeeper.instancer",
        "ZooKeeperRegistrar": "kit_zookeeper.registrar",
        "Session": "kit_zookeeper.session",
    },
)
